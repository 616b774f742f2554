"""WhatsApp webhook helpers: HMAC signatures and payload parsing."""

from __future__ import annotations

import json

import pytest

from agent.whatsapp import PayloadError, parse_payload, sign, signature_valid


def payload(*messages: dict, contacts: list | None = None) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "contacts": contacts or [],
                            "messages": list(messages),
                        },
                    }
                ],
            }
        ],
    }


def test_signature_round_trip_and_tampering() -> None:
    body = json.dumps(payload()).encode()
    header = sign("s3cret", body)
    assert signature_valid("s3cret", body, header)
    assert not signature_valid("s3cret", body + b" ", header)
    assert not signature_valid("other", body, header)
    assert not signature_valid("s3cret", body, None)
    assert not signature_valid("s3cret", body, header.removeprefix("sha256="))


def test_text_and_button_messages_are_parsed_with_the_contact_name() -> None:
    parsed = parse_payload(
        payload(
            {"id": "wamid.1", "from": "5491100000000", "type": "text", "text": {"body": "hola"}},
            {
                "id": "wamid.2",
                "from": "5491100000000",
                "type": "interactive",
                "interactive": {"type": "button_reply", "button_reply": {"id": "y", "title": "Sí"}},
            },
            {"id": "wamid.3", "from": "5491100000000", "type": "image", "image": {"id": "m"}},
            contacts=[{"wa_id": "5491100000000", "profile": {"name": "Ana"}}],
        )
    )
    assert [(m.message_id, m.text, m.kind) for m in parsed] == [
        ("wamid.1", "hola", "text"),
        ("wamid.2", "Sí", "text"),
        ("wamid.3", None, "image"),
    ]
    assert parsed[0].name == "Ana"


def test_status_updates_carry_no_messages() -> None:
    body = payload()
    body["entry"][0]["changes"][0]["value"]["statuses"] = [{"id": "wamid.x", "status": "read"}]
    assert parse_payload(body) == []


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": [{"changes": "x"}]},
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": 3}]}]},
        payload({"type": "text", "text": {"body": "no id"}}),
    ],
)
def test_malformed_payloads_are_rejected(bad: object) -> None:
    with pytest.raises(PayloadError):
        parse_payload(bad)
