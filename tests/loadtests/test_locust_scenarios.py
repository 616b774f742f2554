"""Short headless Locust runs against the real native stack (loadtests/, chaos/load/runner.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from chaos.faults import verify_clean
from chaos.load.results import figures_by_name, read_entries
from chaos.load.runner import LocustLoad
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_steady_run_has_exact_totals_and_every_reply_passes_its_checks(
    locust_cli, stack: StackState, tmp_path: Path
) -> None:
    base = tmp_path / "steady"
    done = locust_cli(
        "-f",
        "loadtests/steady.py",
        "--headless",
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "5s",
        "--think-time",
        "0.1,0.3",
        "--csv",
        str(base),
        "--json-file",
        str(base),
        "--html",
        f"{base}.html",
        "--only-summary",
        # a 5 s run starts from a cold cache; every other declared threshold holds
        "--thresholds",
        "min_cache_hit_ratio=0",
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    entries = read_entries(base)
    total = figures_by_name(entries)["Aggregated"]
    assert total.requests > 0
    assert total.failures == 0, (base.parent / "steady_failures.csv").read_text()
    names = {e["name"] for e in entries}
    assert "POST /api/v1/messages [availability]" in names  # name= groups by conversation step
    assert any(n.startswith("POST /webhooks/whatsapp [") for n in names)
    # Locust's own summary line and our threshold file agree with the JSON's exact totals.
    verdicts = json.loads(Path(f"{base}_thresholds.json").read_text())
    assert verdicts["passed"]
    assert verdicts["requests"] == total.requests
    assert f"{total.requests} requests, 0 failures" in out
    assert Path(f"{base}.html").stat().st_size > 0
    assert Path(f"{base}_stats.csv").is_file()


def test_scheduled_faults_are_applied_on_time_recorded_and_always_removed(
    locust_cli, settled_stack: StackState, tmp_path: Path
) -> None:
    base = tmp_path / "faults"
    # The default schedule (Redis latency at 60 s, PostgreSQL down at 120 s, all restored at
    # 180 s, end at 240 s) compressed 33 times: 1.8 s, 3.6 s, 5.4 s, 7.2 s.
    done = locust_cli(
        "-f",
        "loadtests/scheduled_faults.py",
        "--headless",
        "--time-scale",
        "0.03",
        "--think-time",
        "0.1,0.3",
        "--json-file",
        str(base),
        "--csv",
        str(base),
        "--only-summary",
    )
    out = done.stdout + done.stderr
    failures = Path(f"{base}_failures.csv")
    if failures.exists():
        out += "\n" + failures.read_text()  # which request failed, and why
    # The scenario's thresholds include error_ratio 0: not one guest request failed.
    assert done.returncode == 0, out[-3000:]
    doc = json.loads(Path(f"{base}_faults.json").read_text())
    windows = {w["target"]: w for w in doc["windows"]}
    assert set(windows) == {"redis", "postgres"}
    for w, planned in ((windows["redis"], 1.8), (windows["postgres"], 3.6)):
        assert not w["error"]
        assert w["removed_ok"], w["removal_detail"]  # read back from the proxy
        assert abs(w["started_at"] - doc["started_at"] - planned) < 1.0
        assert abs(w["ended_at"] - doc["started_at"] - 5.4) < 1.0
    assert windows["redis"]["toxics"]
    assert windows["redis"]["fault"] == "redis latency(latency=150, jitter=20) downstream"
    with ToxiproxyClient(settled_stack.url("proxy_api")) as proxy:
        assert verify_clean(proxy) == []
    assert figures_by_name(read_entries(base))["Aggregated"].requests > 0


def test_locust_load_is_a_background_load_whose_samples_match_the_audit_trail(
    stack: StackState, tmp_path: Path
) -> None:
    prefix = "ltload"
    load = LocustLoad(
        stack.url("agent"),
        "steady",
        users=3,
        spawn_rate=3,
        out_dir=tmp_path,
        guest_prefix=prefix,
        extra_args=("--think-time", "0.1,0.3"),
    )
    load.start()
    httpx.get(f"{stack.url('agent')}/health/live", timeout=5).raise_for_status()
    time.sleep(3)
    samples = load.stop()
    assert samples
    assert all(s.status == 200 for s in samples)
    assert all(s.intent and s.message_id for s in samples)
    # Stopped with SIGINT: Locust's quit hooks ran and wrote the exact totals.
    assert load.returncode is not None
    result = load.result()
    assert result.thresholds() is not None
    messages = sum(e["num_requests"] for e in result.entries() if e["name"].startswith("POST /"))
    assert messages == len(samples)  # every channel, API and WhatsApp
    assert {s.channel for s in samples} <= {"api", "whatsapp"}
    # Every acknowledged message, whichever its channel, left exactly one audit row.
    ids = [s.message_id for s in samples]
    with psycopg.connect(stack.url("postgres"), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT payload->>'message_id') FROM audit_logs "
            "WHERE event_type = 'message' AND payload->>'message_id' = ANY(%s)",
            (ids,),
        ).fetchone()
    assert row == (len(samples), len(samples))
