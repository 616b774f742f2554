"""Direct vs proxied Redis through chaos.proxy: added round-trip latency and throughput.

Usage: ``python bench/proxy_bench.py [--json PATH] [--pings N] [--requests N] [--rounds N]``

Starts its own redis-server on a free loopback port and the proxy server as a child
process (``python -m chaos.proxy -port 0``), then measures, for both paths:

- round-trip latency: PINGs on one warm raw TCP connection (TCP_NODELAY), p50 and p99;
- throughput: ``redis-benchmark -q -t set,get -P 16`` (50 clients), or a pipelined
  raw-socket client when redis-benchmark is not installed.

Direct and proxied runs alternate for ``--rounds`` rounds; the table shows the median
latency percentiles over all samples and the best throughput per path (the machine is
shared, so the best round is the least disturbed one). Targets: under 150 us added p50
and at least half the direct throughput. ``run()`` returns the same figures as a dict.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from chaos.proxy.process import spawn
from chaos.stack.processes import free_port

TARGET_ADDED_P50_US = 150.0
TARGET_THROUGHPUT_RATIO = 0.5


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A throwaway redis-server (no persistence) on a free port, ready to serve."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install redis-server")
    port = free_port()
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    with (workdir / "redis.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16) == b"+PONG\r\n":
                    return proc, port
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise SystemExit("redis-server did not start")


def ping_latencies_us(port: int, count: int, warmup: int = 200) -> list[float]:
    """Round-trip times of ``count`` PINGs on one warm connection, in microseconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        samples = []
        for index in range(count + warmup):
            start = time.perf_counter_ns()
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
            elapsed = time.perf_counter_ns() - start
            if reply != b"+PONG\r\n":
                raise RuntimeError(f"unexpected reply {reply!r}")
            if index >= warmup:
                samples.append(elapsed / 1000.0)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def redis_benchmark(port: int, requests: int) -> dict[str, float]:
    """SET and GET requests per second from redis-benchmark -P 16 (50 clients)."""
    out = subprocess.run(
        [
            "redis-benchmark",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-q",
            "--csv",
            "-t",
            "set,get",
            "-P",
            "16",
            "-n",
            str(requests),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    rates = {}
    for line in out.splitlines():
        fields = [f.strip('"') for f in line.split(",")]
        if fields[0] in ("SET", "GET"):
            rates[fields[0].lower()] = float(fields[1])
    return rates


def pipelined_client(port: int, requests: int, depth: int = 16) -> dict[str, float]:
    """Fallback without redis-benchmark: one connection, batches of ``depth`` commands."""
    rates = {}
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for name, command, reply in (
            ("set", b"SET bench:key xxx\r\n", b"+OK\r\n"),
            ("get", b"GET bench:key\r\n", b"$3\r\nxxx\r\n"),
        ):
            batch, expected = command * depth, len(reply) * depth
            start = time.perf_counter()
            for _ in range(requests // depth):
                sock.sendall(batch)
                got = 0
                while got < expected:
                    got += len(sock.recv(65536))
            rates[name] = (requests // depth) * depth / (time.perf_counter() - start)
    return rates


def run(
    pings: int = 2000,
    requests: int = 200_000,
    rounds: int = 2,
    loop: str = "auto",
    json_path: Path | None = None,
    show: bool = True,
    quick: bool = False,
) -> dict[str, Any]:
    """Measure direct vs proxied Redis and return (and optionally write) the figures.

    ``quick`` is a smoke run (500 PINGs, 20 000 requests, one round).
    """
    if quick:
        pings, requests, rounds = 500, 20_000, 1
    throughput = redis_benchmark if shutil.which("redis-benchmark") else pipelined_client
    with tempfile.TemporaryDirectory(prefix="proxy-bench-") as tmp:
        workdir = Path(tmp)
        redis_proc, redis_port = start_redis(workdir)
        proxy = None
        try:
            proxy = spawn(workdir / "proxy.log", args=["-loop", loop], env={"LOG_LEVEL": "warn"})
            created = httpx.post(
                f"{proxy.url}/proxies",
                json={
                    "name": "redis",
                    "listen": "127.0.0.1:0",
                    "upstream": f"127.0.0.1:{redis_port}",
                },
                timeout=5,
            )
            created.raise_for_status()
            proxy_port = int(created.json()["listen"].rsplit(":", 1)[1])
            ports = {"direct": redis_port, "proxied": proxy_port}
            latency: dict[str, list[float]] = {"direct": [], "proxied": []}
            rates: dict[str, dict[str, float]] = {"direct": {}, "proxied": {}}
            for _ in range(rounds):
                for path, port in ports.items():
                    latency[path] += ping_latencies_us(port, pings)
                    for test, rate in throughput(port, requests).items():
                        rates[path][test] = max(rates[path].get(test, 0.0), rate)
        finally:
            if proxy is not None:
                proxy.stop()
            redis_proc.terminate()
            redis_proc.wait(10)
    result = summarise(latency, rates, throughput.__name__, loop, pings, requests, rounds)
    if show:
        print_table(result)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def summarise(
    latency: dict[str, list[float]],
    rates: dict[str, dict[str, float]],
    method: str,
    loop: str,
    pings: int,
    requests: int,
    rounds: int,
) -> dict[str, Any]:
    """The figures as a JSON-ready dict, with ratios and whether the targets were met."""
    lat = {
        path: {"p50_us": round(percentile(s, 0.50), 1), "p99_us": round(percentile(s, 0.99), 1)}
        for path, s in latency.items()
    }
    added_p50 = round(lat["proxied"]["p50_us"] - lat["direct"]["p50_us"], 1)
    added_p99 = round(lat["proxied"]["p99_us"] - lat["direct"]["p99_us"], 1)
    tput = {
        test: {
            "direct_rps": round(rates["direct"][test]),
            "proxied_rps": round(rates["proxied"][test]),
            "ratio": round(rates["proxied"][test] / rates["direct"][test], 3),
        }
        for test in sorted(rates["direct"])
    }
    return {
        "latency": {**lat, "added_p50_us": added_p50, "added_p99_us": added_p99},
        "throughput": tput,
        "targets": {
            "added_p50_us_max": TARGET_ADDED_P50_US,
            "throughput_ratio_min": TARGET_THROUGHPUT_RATIO,
            "added_p50_met": added_p50 < TARGET_ADDED_P50_US,
            "throughput_met": all(t["ratio"] >= TARGET_THROUGHPUT_RATIO for t in tput.values()),
        },
        "method": {
            "latency": f"{pings} PINGs x {rounds} rounds on one warm raw socket per path",
            "throughput": f"{method}, {requests} requests, -P 16, best of {rounds} rounds",
            "event_loop": loop,
        },
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
        },
    }


def print_table(result: dict[str, Any]) -> None:
    """A small human-readable table of the figures."""
    lat = result["latency"]
    print("Redis through chaos.proxy vs direct")
    print(f"{'':24}{'direct':>12}{'proxied':>12}{'added':>12}")
    for key in ("p50_us", "p99_us"):
        direct, proxied, added = lat["direct"][key], lat["proxied"][key], lat[f"added_{key}"]
        print(f"{'RTT ' + key:24}{direct:>12.1f}{proxied:>12.1f}{added:>12.1f}")
    print(f"{'':24}{'direct':>12}{'proxied':>12}{'ratio':>12}")
    for test, row in result["throughput"].items():
        label = f"{test.upper()} req/s"
        print(f"{label:24}{row['direct_rps']:>12}{row['proxied_rps']:>12}{row['ratio']:>12.2f}")
    targets = result["targets"]
    print(
        f"targets: added p50 < {targets['added_p50_us_max']:.0f} us: "
        f"{'met' if targets['added_p50_met'] else 'MISSED'}; throughput >= "
        f"{targets['throughput_ratio_min']:.0%} of direct: "
        f"{'met' if targets['throughput_met'] else 'MISSED'}"
    )
    print(f"method: {result['method']['latency']}; {result['method']['throughput']}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    run(args.pings, args.requests, args.rounds, args.loop, args.json, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
