"""The agent as guests reach it: a real process behind the fault proxy, with real Redis,
PostgreSQL and the PMS simulator (the session ``stack`` fixture)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date, timedelta

import httpx
import psycopg
import pytest

from agent.whatsapp import sign
from chaos.faults import Fault, inject
from chaos.load.stays import MONTHS_ES
from chaos.metrics import scrape
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = pytest.mark.integration

PMS_KEY = {"X-API-Key": "pms-dev-key"}


def say(client: httpx.Client, guest: str, text: str, **extra: str) -> dict:
    r = client.post("/api/v1/messages", json={"guest_id": guest, "text": text, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def metric(stack: StackState, name: str, **labels: str) -> float:
    return scrape(stack.url("agent")).total(name, **labels) or 0.0


def rooms_left(stack: StackState, room_type: str, check_in: date, check_out: date) -> int:
    r = httpx.get(
        f"{stack.url('pms')}/api/v1/availability",
        headers=PMS_KEY,
        timeout=5,
        params={
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guests": 2,
            "room_type": room_type,
        },
    )
    return int(next(o for o in r.json()["offers"] if o["room_type"] == room_type)["available"])


def test_spanish_conversation_books_a_room_and_availability_drops(stack: StackState) -> None:
    check_in = date.today() + timedelta(days=40)
    check_out = check_in + timedelta(days=2)
    before = rooms_left(stack, "deluxe", check_in, check_out)
    guest = f"it-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=stack.url("agent"), timeout=20) as client:
        first = say(
            client,
            guest,
            f"Hola! ¿Tienen lugar del {check_in.day} de "
            f"{MONTHS_ES[check_in.month - 1]} al {check_out.day} de "
            f"{MONTHS_ES[check_out.month - 1]} para 2 personas?",
        )
        assert first["intent"] == "availability" and not first["degraded"]
        assert say(client, guest, "Me quedo con la deluxe")["intent"] == "reservation"
        done = say(client, guest, "sí, confirmo")
    assert done["booking_id"]
    assert rooms_left(stack, "deluxe", check_in, check_out) == before - 1
    with psycopg.connect(stack.url("postgres")) as conn:
        kinds = [
            k
            for (k,) in conn.execute(
                "SELECT event_type FROM audit_logs WHERE guest_id = %s ORDER BY occurred_at",
                (guest,),
            )
        ]
    assert kinds.count("message") == 3 and "booking" in kinds


def test_redis_cut_mid_conversation_degrades_and_retries_but_never_5xx(stack: StackState) -> None:
    guest = f"it-{uuid.uuid4().hex[:8]}"
    retries_before = metric(stack, "session_save_retries_total")
    with (
        httpx.Client(base_url=stack.url("agent"), timeout=30) as client,
        ToxiproxyClient(stack.url("proxy_api")) as proxy,
    ):
        assert not say(client, guest, "Hola")["degraded"]
        with inject(proxy, Fault("redis", "reset_peer", {"timeout": 0})):
            during = [say(client, guest, "¿A qué hora es el check-out?") for _ in range(3)]
        assert all(r["intent"] == "checkout_info" for r in during)
        assert any(r["degraded"] for r in during)
        with inject(proxy, Fault("redis", "down")):
            down = say(client, guest, "¿Dónde están?")
        assert down["degraded"] and down["intent"] == "location"
        time.sleep(0.5)
        healed = [say(client, guest, "gracias") for _ in range(3)]
    assert not healed[-1]["degraded"]
    assert metric(stack, "session_save_retries_total") - retries_before >= 3


def whatsapp_payload(sender: str, message_id: str, text: str) -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "contacts": [{"wa_id": sender, "profile": {"name": "Ana"}}],
                                "messages": [
                                    {
                                        "id": message_id,
                                        "from": sender,
                                        "type": "text",
                                        "text": {"body": text},
                                        "timestamp": "1700000000",
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def test_signed_whatsapp_message_is_answered_once_through_the_graph_api(stack: StackState) -> None:
    sender = f"54911{uuid.uuid4().int % 10**8:08d}"
    body = whatsapp_payload(sender, f"wamid.{uuid.uuid4().hex}", "Hello, where are you located?")
    headers = {
        "content-type": "application/json",
        "x-hub-signature-256": sign(stack.whatsapp_secret, body),
    }
    with httpx.Client(base_url=stack.url("agent"), timeout=20) as client:
        first = client.post("/webhooks/whatsapp", content=body, headers=headers)
        again = client.post("/webhooks/whatsapp", content=body, headers=headers)
    assert first.json() == {"status": "ok", "processed": 1, "duplicates": 0, "statuses": 0}
    assert again.json() == {"status": "ok", "processed": 0, "duplicates": 1, "statuses": 0}
    sent = httpx.get(
        f"{stack.url('pms')}/graph/_sent", params={"to": sender}, headers=PMS_KEY, timeout=5
    ).json()
    messages = sent["messages"] if isinstance(sent, dict) else sent
    assert len(messages) == 1
    assert "Libertador" in json.dumps(messages[0], ensure_ascii=False)


def test_readiness_reports_each_dependency(stack: StackState) -> None:
    with ToxiproxyClient(stack.url("proxy_api")) as proxy:
        ready = httpx.get(f"{stack.url('agent')}/health/ready", timeout=5).json()
        assert ready["checks"] == {
            "redis": "up",
            "postgres": "up",
            "pms": "up",
            "nlu": "up",
            "stt": "up",
        }
        with inject(proxy, Fault("pms", "down")):
            degraded = httpx.get(f"{stack.url('agent')}/health/ready", timeout=10).json()
    assert degraded["status"] == "degraded" and degraded["checks"]["pms"] == "down"
    assert metric(stack, "dependency_up", dependency="redis") == 1
