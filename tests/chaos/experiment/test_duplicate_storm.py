"""The duplicate storm's verdict needs the agent's dedupe: against a fake agent that
answers every copy it fails, against one that claims each message id it passes. The
catalogue run (``test_catalogue_runs.py``) sends about 300 webhooks to the live stack; the
full storm of 1,000 is ``python -m bench.storm`` (``make bench``)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from chaos.experiment.expectations import Evidence, ensure_expectation, evaluate
from chaos.experiment.runner import match_replies
from chaos.metrics import Timeline
from chaos.traffic import OpenLoad, Sample

SECRET = "storm-secret"
STORM = "whatsapp-duplicate-storm"


def fake_agent(sent: list[dict[str, Any]], dedupe: bool) -> httpx.MockTransport:
    """Answers each webhook through a fake Graph (``sent``); ``dedupe`` claims message ids."""
    claimed: set[str] = set()

    async def handle(request: httpx.Request) -> httpx.Response:
        msg = json.loads(request.content)["entry"][0]["changes"][0]["value"]["messages"][0]
        if dedupe and msg["id"] in claimed:
            return httpx.Response(200, json={"processed": 0, "duplicates": 1})
        claimed.add(msg["id"])
        await asyncio.sleep(0.05)  # the reply goes out while its twin may arrive
        sent.append({"to": msg["from"], "payload": {"text": {"body": "hola"}}})
        return httpx.Response(200, json={"processed": 1, "duplicates": 0})

    return httpx.MockTransport(handle)


def storm(dedupe: bool) -> tuple[list[Sample], list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    load = OpenLoad("http://agent", rate_per_s=40, guests=5, whatsapp_share=1.0,
                    whatsapp_secret=SECRET, duplicate_share=0.5, concurrent_share=0.5,
                    transport=fake_agent(sent, dedupe))  # fmt: skip
    load.start()
    time.sleep(1.0)
    return load.stop(), sent


def replies_verdict(samples: list[Sample], sent: list[dict[str, Any]]) -> Any:
    check = match_replies(samples, sent)
    evidence = Evidence(Timeline(), samples, 0.0, 0.0, replies=check)
    return evaluate(ensure_expectation({"whatsapp_replies": {}}, "e"), evidence), check


@pytest.mark.parametrize("dedupe", [True, False])
def test_the_replies_verdict_fails_when_duplicates_are_answered_again(dedupe: bool) -> None:
    samples, sent = storm(dedupe)
    verdict, check = replies_verdict(samples, sent)
    assert check.deliveries > check.messages >= 30  # the storm delivered copies
    if dedupe:
        assert verdict.status == "passed", verdict.detail
    else:
        assert verdict.status == "failed", verdict.detail
        assert sum(check.extra.values()) == check.deliveries - check.messages
