"""Raw throughput with wrk (C, one thread): a generator that is not the bottleneck.

``run`` starts wrk for a fixed time and returns its figures plus its own CPU time (from
``wait4``), so the bench can say which share of a core the generator used: above
``GENERATOR_LIMIT`` the figure is marked invalid, because the generator, not the server,
was the limit. A Lua script builds the requests (unique message ids for POSTs) and
prints the summary as one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.load.errors import LoadError

GENERATOR_LIMIT = 0.8  # share of one core above which wrk may have been the bottleneck
_MARK = "WRKJSON "

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"socket_errors":%d,"non_2xx":%d,'
      .. '"p50_us":%d,"p95_us":%d,"p99_us":%d}\\n',
    "MARK", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
""".replace("MARK", _MARK)


def _lua_string(text: str) -> str:
    """``text`` as a Lua string literal holding its JSON encoding (ASCII only)."""
    encoded = json.dumps(text, ensure_ascii=True)
    return "'" + encoded.replace("\\", "\\\\").replace("'", "\\'") + "'"


def get_script() -> str:
    return _DONE


def messages_script(texts: Sequence[str], guest_prefix: str, guests: int = 50) -> str:
    """POST /api/v1/messages cycling through ``texts``, each with a new message id."""
    bodies = ",\n  ".join(_lua_string(t) for t in texts)
    return f"""
local texts = {{
  {bodies}
}}
local n = 0
math.randomseed(os.time())  -- LuaJIT's sequence is the same every run without a seed
local prefix = "{guest_prefix}-" .. tostring(math.random(1, 1000000000))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local body = string.format(
    '{{"guest_id":"%s-g%d","text":%s,"message_id":"%s-m%d"}}',
    prefix, n % {guests}, texts[(n % #texts) + 1], prefix, n)
  return wrk.format(nil, "/api/v1/messages", nil, body)
end
{_DONE}"""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles, errors, and wrk's own CPU share."""

    requests: int
    duration_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    generator_cpu_share: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def valid(self) -> bool:
        return self.generator_cpu_share <= GENERATOR_LIMIT

    def as_dict(self) -> dict[str, Any]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "requests": self.requests,
            "failures": self.errors,
            "generator": "wrk",
            "generator_cpu_share": round(self.generator_cpu_share, 3),
            "valid": self.valid,
        }


def available() -> bool:
    return shutil.which("wrk") is not None


def run(
    url: str,
    script: str,
    *,
    connections: int,
    duration_s: float,
    work_dir: Path,
    name: str,
    timeout_s: float = 10.0,
) -> WrkResult:
    """Run wrk (one thread) against ``url`` for ``duration_s`` seconds."""
    binary = shutil.which("wrk")
    if binary is None:
        raise LoadError("wrk is not installed: apt-get install wrk")
    work_dir.mkdir(parents=True, exist_ok=True)
    lua = work_dir / f"{name}.lua"
    lua.write_text(script)
    argv = [
        binary,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(lua),
        url,
    ]
    out_path = work_dir / f"{name}.wrk.txt"
    started = time.monotonic()
    with out_path.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_text(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith(_MARK)), None)
    if proc.returncode != 0 or line is None:
        raise LoadError(f"wrk failed (exit {proc.returncode}): {text[-800:]}")
    data = json.loads(line.removeprefix(_MARK))
    cpu = usage.ru_utime + usage.ru_stime
    return WrkResult(
        requests=int(data["requests"]),
        duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=int(data["socket_errors"]) + int(data["non_2xx"]),
        generator_cpu_share=cpu / wall if wall > 0 else 0.0,
    )
