"""Hotel guests as Locust users: multi-turn conversations over the API and WhatsApp.

``ApiGuest`` talks to ``POST /api/v1/messages``; ``WhatsAppGuest`` posts signed Cloud API
webhooks and, after each conversation, checks in the PMS simulator's Graph recorder that
every message got exactly one reply. Each conversation is a new guest; a user remembers
the bookings it made, so a later late-checkout conversation can use one. Replies are
checked for meaning (intent, language, dates, booking number, escalation) with
``catch_response``; requests are grouped by conversation step with ``name=``.

Run a scenario (steady.py, step.py, spike.py, soak.py, scheduled_faults.py) rather than
this file; see loadtests/README.md.
"""

from __future__ import annotations

import itertools
import logging
import random
import uuid
from datetime import date
from typing import Any

from locust import FastHttpUser, task

from chaos.load import locust_hooks
from chaos.load.conversations import (
    DEFAULT_MIX,
    Guest,
    Turn,
    check_reply,
    check_text,
)
from chaos.load.stays import StayPicker, stay_windows
from chaos.traffic import signed_webhook, whatsapp_payload

log = logging.getLogger("chaoslab.load")
MESSAGES = "/api/v1/messages"
WEBHOOK = "/webhooks/whatsapp"
_user_ids = itertools.count()
# Unique per process, so guest ids and phone numbers never meet sessions or recorded
# WhatsApp replies left by an earlier run (sessions live 30 minutes).
RUN = uuid.uuid4().int % 100_000


def _weight(kind: str) -> int:
    return DEFAULT_MIX[kind][1]


class _GuestUser(FastHttpUser):
    """What both channels share: identity, seeded choices, think time, the conversation loop."""

    abstract = True
    network_timeout = 20.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        self.number = next(_user_ids)
        seed = int(getattr(opts, "seed", 7))
        self.rng = random.Random(seed * 100_003 + self.number)
        stays = StayPicker(stay_windows(date.today(), seed=seed), self.rng)
        self.guest = Guest(self.rng, stays)
        self.prefix = f"{getattr(opts, 'guest_prefix', 'locust')}-{RUN:05d}-{self.number}"
        self.conversations = itertools.count()
        low, _, high = str(getattr(opts, "think_time", "1,3")).partition(",")
        self.think = (float(low), float(high or low))

    def wait_time(self) -> float:
        return self.rng.uniform(*self.think)

    def converse(self, kind: str) -> None:
        """Play one conversation of ``kind`` to its end, one turn per request."""
        guest_id = self.guest_id(kind, next(self.conversations))
        conversation = DEFAULT_MIX[kind][0](self.guest)
        sent: list[Turn] = []
        turn = next(conversation)
        while True:
            sent.append(turn)
            reply = self.send(guest_id, turn)
            try:
                turn = conversation.send(reply)
            except StopIteration:
                break
            self.wait()  # the guest reads the answer and types the next message
        self.after_conversation(guest_id, sent)

    def guest_id(self, kind: str, n: int) -> str:
        return f"{self.prefix}-{kind[:4]}-{n}"

    def send(self, guest_id: str, turn: Turn) -> dict[str, Any] | None:
        raise NotImplementedError

    def after_conversation(self, guest_id: str, turns: list[Turn]) -> None:
        """Channel-specific checks once the guest is done."""


class ApiGuest(_GuestUser):
    """A guest on the web chat or an app, through the channel-neutral message API."""

    weight = 3

    def send(self, guest_id: str, turn: Turn) -> dict[str, Any] | None:
        body = {"guest_id": guest_id, "text": turn.text, "message_id": uuid.uuid4().hex}
        name = f"POST {MESSAGES} [{turn.label}]"
        context = {"sample": True, "channel": "api", "message_id": body["message_id"],
                   "guest_id": guest_id}  # fmt: skip
        with self.client.post(
            MESSAGES, json=body, name=name, catch_response=True, context=context
        ) as resp:
            try:
                reply = resp.json()
            except ValueError:
                reply = None
            context = resp.request_meta["context"]
            if isinstance(reply, dict):
                context["degraded"] = bool(reply.get("degraded"))
                context["intent"] = str(reply.get("intent", ""))
            problem = check_reply(turn, resp.status_code, reply)
            if problem:
                resp.failure(f"{turn.label}: {problem}")
            else:
                resp.success()
        return reply if isinstance(reply, dict) else None

    @task(_weight("availability"))
    def availability(self) -> None:
        self.converse("availability")

    @task(_weight("information"))
    def information(self) -> None:
        self.converse("information")

    @task(_weight("room_options"))
    def room_options(self) -> None:
        self.converse("room_options")

    @task(_weight("booking"))
    def booking(self) -> None:
        self.converse("booking")

    @task(_weight("late_checkout"))
    def late_checkout(self) -> None:
        self.converse("late_checkout")

    @task(_weight("urgent"))
    def urgent(self) -> None:
        self.converse("urgent")


class WhatsAppGuest(_GuestUser):
    """A guest on WhatsApp: signed webhooks; replies go out through the Graph API."""

    weight = 1
    _warned = False

    def on_start(self) -> None:
        super().on_start()
        self.secret = locust_hooks.STACK.whatsapp_secret
        if not self.secret and not WhatsAppGuest._warned:
            WhatsAppGuest._warned = True
            log.error(
                "no WhatsApp app secret (CHAOSLAB_WHATSAPP_SECRET or the stack state): "
                "every webhook will be refused with 401"
            )

    def guest_id(self, kind: str, n: int) -> str:
        """A phone number in international format, as WhatsApp senders have."""
        return f"549{RUN:05d}{self.number % 1000:03d}{n % 10_000:04d}"

    def send(self, guest_id: str, turn: Turn) -> dict[str, Any] | None:
        message_id = f"wamid.{uuid.uuid4().hex}"
        payload = whatsapp_payload(guest_id, "Lab Guest", turn.text, message_id)
        raw, headers = signed_webhook(self.secret, payload)
        context = {"sample": True, "channel": "whatsapp", "intent": turn.label,
                   "message_id": message_id, "guest_id": guest_id}  # fmt: skip
        with self.client.post(
            WEBHOOK,
            data=raw,
            headers=headers,
            catch_response=True,
            name=f"POST {WEBHOOK} [{turn.label}]",
            context=context,
        ) as resp:
            try:
                body = resp.json()
            except ValueError:
                body = None
            if resp.status_code != 200:
                resp.failure(f"{turn.label}: HTTP {resp.status_code}")
            elif not isinstance(body, dict) or body.get("processed") != 1:
                resp.failure(f"{turn.label}: webhook did not process exactly one message: {body}")
            else:
                resp.success()
        return None  # the reply travels through the Graph API, not this response

    def after_conversation(self, guest_id: str, turns: list[Turn]) -> None:
        pms = locust_hooks.STACK.pms_url
        if not pms or not turns:
            return
        with self.client.get(
            f"{pms.rstrip('/')}/graph/_sent",
            params={"to": guest_id},
            headers={"X-API-Key": locust_hooks.STACK.pms_api_key},
            name="GET /graph/_sent [verify whatsapp replies]",
            catch_response=True,
        ) as resp:
            try:
                sent = [m["payload"]["text"]["body"] for m in resp.json()["messages"]]
            except (ValueError, KeyError, TypeError):
                resp.failure(f"Graph recorder answered HTTP {resp.status_code}")
                return
            if len(sent) != len(turns):
                resp.failure(f"{len(turns)} messages got {len(sent)} WhatsApp replies")
                return
            for turn, text in zip(turns, sent, strict=True):
                problem = None if turn.expect.pms else check_text(turn.expect, text)
                if problem:
                    resp.failure(f"{turn.label}: {problem}")
                    return
            resp.success()

    @task(_weight("availability"))
    def availability(self) -> None:
        self.converse("availability")

    @task(_weight("information"))
    def information(self) -> None:
        self.converse("information")

    @task(_weight("room_options"))
    def room_options(self) -> None:
        self.converse("room_options")

    @task(_weight("urgent"))
    def urgent(self) -> None:
        self.converse("urgent")
