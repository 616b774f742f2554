#!/usr/bin/env bash
# Installs the Debian packages the stack and the tests need, when they are missing.
# PostgreSQL 15 server binaries are expected under /usr/lib/postgresql/15/bin.
set -euo pipefail

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
command -v wrk >/dev/null || need+=(wrk)  # make bench: raw throughput
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v prometheus-redis-exporter >/dev/null || need+=(prometheus-redis-exporter)
command -v prometheus-postgres-exporter >/dev/null || need+=(prometheus-postgres-exporter)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v ffmpeg >/dev/null || need+=(ffmpeg)  # the speech-to-text server reads voice notes
command -v espeak-ng >/dev/null || need+=(espeak-ng)  # the tests synthesise voice notes

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null || [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages; install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
