"""Guest traffic for experiments: an open-model load of API and WhatsApp messages.

``OpenLoad`` schedules message ``i`` at ``t0 + i / rate`` whatever the agent does and
sends each one on its own, so a slow or stalled agent cannot slow the schedule; every
request's latency counts from the moment it was meant to be sent. A closed loop (send,
wait, send) would send fewer requests while the agent stalls and hide the stall from its
percentiles (coordinated omission); this one cannot.

Each ``Sample`` carries its intended send time, actual send time, completion time,
status, channel and message id, so experiments assign phases by send time and reconcile
acknowledged message ids with the audit log. The Locust path (``chaos.load.runner``)
produces the same type. Guest texts come from the conversations in
``chaos.load.conversations``: the first message of a conversation drawn from the
default mix.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import date, timedelta
from typing import Any

import httpx

from chaos.load.conversations import DEFAULT_MIX, REPLY_INDEPENDENT, Guest, Turn
from chaos.load.stays import StayPicker, stay_windows

MESSAGES = "/api/v1/messages"
WEBHOOK = "/webhooks/whatsapp"
VOICE_MIME = "audio/ogg; codecs=opus"
# Meta redelivers a message it thinks was not taken about a second later (a stored copy).
REDELIVERY_S = 1.0


@dataclass(frozen=True)
class Sample:
    """One guest message: when it was meant to go, went and came back, and how it ended.

    ``status`` 0 means no HTTP answer (``error`` names the transport error).
    ``degraded`` is None where the channel does not say (a WhatsApp webhook answers
    before the reply is delivered through the Graph API); so is ``session_id``, the
    agent's session the reply came from (a guest whose id changes lost their context).
    """

    intended_at: float
    sent_at: float
    done_at: float
    status: int
    channel: str
    message_id: str
    guest_id: str = ""
    label: str = ""
    degraded: bool | None = None
    intent: str = ""
    error: str = ""
    session_id: str = ""

    @property
    def latency_s(self) -> float:
        """From the intended send time: what the guest waited, queueing included."""
        return self.done_at - self.intended_at

    @property
    def service_s(self) -> float:
        return self.done_at - self.sent_at

    @property
    def failed(self) -> bool:
        """A 5xx or no answer at all: the guest got nothing."""
        return self.status == 0 or self.status >= 500

    @property
    def acknowledged(self) -> bool:
        """The agent took the message (2xx): it owes an audit event for it."""
        return 200 <= self.status < 300

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sample:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


COLUMNS = tuple(f.name for f in fields(Sample))


def whatsapp_payload(
    sender: str, name: str, text: str, message_id: str, media_id: str = ""
) -> dict[str, Any]:
    """One inbound message in the WhatsApp Cloud API webhook shape: text, or a voice note
    (``media_id``: the Graph media id of its audio)."""
    kind = "audio" if media_id else "text"
    body: dict[str, Any] = {"body": text}
    if media_id:
        body = {"id": media_id, "mime_type": VOICE_MIME, "voice": True}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "lab-waba", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5491155550100", "phone_number_id": "lab"},
            "contacts": [{"wa_id": sender, "profile": {"name": name}}],
            "messages": [{"id": message_id, "from": sender,
                          "timestamp": str(int(time.time())), "type": kind,
                          kind: body}],
        }}]}],
    }  # fmt: skip


def signed_webhook(secret: str, payload: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body and headers Meta would send: ASCII JSON, so the bytes sent are those signed."""
    from agent.whatsapp import sign

    raw = json.dumps(payload, ensure_ascii=True).encode()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(secret, raw)}


@dataclass(frozen=True)
class Message:
    """One planned guest message."""

    channel: str
    guest_id: str
    text: str
    label: str
    message_id: str
    media_id: str = ""  # a voice note's audio in the Graph recorder
    # When each copy is delivered, in seconds after the first: (0.0,) is one delivery,
    # (0.0, 0.0) a concurrent pair, (0.0, REDELIVERY_S) a copy Meta sends again later.
    copies: tuple[float, ...] = (0.0,)


class GuestMix:
    """The first question of conversations from the default mix, seeded and repeatable.

    ``kinds`` narrows the conversations drawn (default: the whole mix, by its weights);
    a greeting that opens a conversation is skipped, so every message asks something.
    ``stays`` distinct stay windows are drawn with popularity skew ``skew`` (0: uniform);
    ``lead_days`` moves every stay that many days further ahead (beyond the nights the
    agent's cache warmer keeps, a question is a PMS lookup the first time it is asked).
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        stays: int = 30,
        skew: float = 1.1,
        kinds: tuple[str, ...] = (),
        lead_days: int = 0,
    ) -> None:
        unknown = sorted(set(kinds) - set(DEFAULT_MIX))
        if unknown:
            raise ValueError(f"unknown conversation kind(s) {', '.join(unknown)}")
        self.kinds = kinds or tuple(DEFAULT_MIX)
        self.rng = random.Random(seed)
        start = date.today() + timedelta(days=lead_days)
        windows = stay_windows(start, count=stays, horizon_days=max(60, stays), seed=seed)
        self.guest = Guest(self.rng, StayPicker(windows, self.rng, exponent=skew))

    def turn(self, whatsapp: bool = False) -> Turn:
        kinds = [k for k in self.kinds if not whatsapp or k in REPLY_INDEPENDENT] or ["information"]
        kind = self.rng.choices(kinds, weights=[DEFAULT_MIX[k][1] for k in kinds])[0]
        conversation = DEFAULT_MIX[kind][0](self.guest)
        try:
            turn = next(conversation)
            return conversation.send(None) if turn.label == "greeting" else turn
        finally:
            conversation.close()


@dataclass
class OpenLoad:
    """Guest messages at a fixed arrival rate, in a background thread (open model).

    ``whatsapp_share`` of the messages go to the signed WhatsApp webhook (needs
    ``whatsapp_secret``), the rest to the message API. API guests are
    ``{guest_prefix}-{n % guests}``; WhatsApp senders are phone numbers. ``voice_share``
    of the WhatsApp messages are voice notes, each one of ``voice_notes`` (Graph media
    ids of uploaded audio, see ``chaos.stt.voices.upload_notes``). ``duplicate_share``
    of the WhatsApp messages are delivered twice with the same message id, as Meta does:
    ``concurrent_share`` of those as two copies at the same moment, the rest as a copy
    ``REDELIVERY_S`` later; each copy is a sample of its own. ``stop`` stops
    scheduling, waits up to ``timeout_s`` for the messages in flight and returns every
    sample. Beyond ``max_in_flight`` concurrent messages a message is recorded as failed
    ("not sent") rather than delayed, so the schedule never bends.
    """

    agent_url: str
    rate_per_s: float = 4.0
    guests: int = 10
    guest_prefix: str = "load"
    whatsapp_share: float = 0.0
    whatsapp_secret: str = ""
    voice_share: float = 0.0
    voice_notes: tuple[str, ...] = ()
    duplicate_share: float = 0.0
    concurrent_share: float = 0.0
    stays: int = 30
    skew: float = 1.1
    kinds: tuple[str, ...] = ()
    lead_days: int = 0
    seed: int = 7
    timeout_s: float = 15.0
    max_in_flight: int = 500
    transport: httpx.AsyncBaseTransport | None = None  # tests swap the network out
    samples: list[Sample] = field(default_factory=list)
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stopping: asyncio.Event | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _mono0: float = 0.0
    _epoch0: float = 0.0
    _waiting: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or self.guests < 1:
            raise ValueError("an open load needs rate_per_s > 0 and guests >= 1")
        if not 0.0 <= self.whatsapp_share <= 1.0:
            raise ValueError("whatsapp_share must be between 0 and 1")
        if self.whatsapp_share and not self.whatsapp_secret:
            raise ValueError("WhatsApp messages need the app secret to sign them")
        for share in (self.voice_share, self.duplicate_share, self.concurrent_share):
            if not 0.0 <= share <= 1.0:
                raise ValueError("voice, duplicate and concurrent shares must be between 0 and 1")
        if self.voice_share and not self.voice_notes:
            raise ValueError("voice notes need uploaded audio (voice_notes: Graph media ids)")

    def messages(self) -> Iterator[Message]:
        """The planned messages, in order (the same for the same seed)."""
        mix = GuestMix(
            seed=self.seed,
            stays=self.stays,
            skew=self.skew,
            kinds=self.kinds,
            lead_days=self.lead_days,
        )
        run = uuid.uuid4().int % 100_000
        for n in range(1 << 62):
            whatsapp = mix.rng.random() < self.whatsapp_share
            turn = mix.turn(whatsapp)
            if whatsapp:
                guest = f"549{run:05d}{n % self.guests:04d}"
                wamid, media, label = f"wamid.{uuid.uuid4().hex}", "", turn.label
                copies: tuple[float, ...] = (0.0,)
                # Each draw only when its share is set, so older seeds plan the same messages.
                if self.voice_share and mix.rng.random() < self.voice_share:
                    media, label = mix.rng.choice(self.voice_notes), "voice"
                if self.duplicate_share and mix.rng.random() < self.duplicate_share:
                    concurrent = mix.rng.random() < self.concurrent_share
                    copies = (0.0, 0.0 if concurrent else REDELIVERY_S)
                yield Message("whatsapp", guest, turn.text, label, wamid, media, copies)
            else:
                guest = f"{self.guest_prefix}-{n % self.guests}"
                yield Message("api", guest, turn.text, turn.label, uuid.uuid4().hex)

    def live_samples(self) -> list[Sample]:
        """The samples so far (while the load runs)."""
        return list(self.samples)

    def waiting(self) -> list[float]:
        """Intended send times of the messages still waiting for an answer."""
        return list(self._waiting.values())

    async def _send(
        self, client: httpx.AsyncClient, msg: Message, intended: float, copy: int = 0
    ) -> None:
        delay = msg.copies[copy]
        if delay:
            await asyncio.sleep(delay)
        key = f"{msg.message_id}#{copy}"
        self._waiting[key] = intended + delay
        try:
            await self._exchange(client, msg, intended + delay)
        finally:
            self._waiting.pop(key, None)

    async def _exchange(self, client: httpx.AsyncClient, msg: Message, intended: float) -> None:
        sent = self._now()
        status, degraded, intent, error, session = 0, None, msg.label, "", ""
        try:
            if msg.channel == "api":
                body = {"guest_id": msg.guest_id, "text": msg.text, "message_id": msg.message_id}
                response = await client.post(MESSAGES, json=body)
            else:
                payload = whatsapp_payload(
                    msg.guest_id, "Lab Guest", msg.text, msg.message_id, msg.media_id
                )
                raw, headers = signed_webhook(self.whatsapp_secret, payload)
                response = await client.post(WEBHOOK, content=raw, headers=headers)
            status = response.status_code
            if msg.channel == "api" and response.headers.get("content-type", "").startswith(
                "application/json"
            ):
                answer = response.json()
                degraded = bool(answer.get("degraded"))
                intent = str(answer.get("intent", ""))
                session = str(answer.get("session_id") or "")
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        except ValueError as exc:  # a 2xx whose body is not the JSON it claims to be
            error = f"unreadable reply: {exc}"
        self.samples.append(
            Sample(
                intended_at=intended,
                sent_at=sent,
                done_at=self._now(),
                status=status,
                channel=msg.channel,
                message_id=msg.message_id,
                guest_id=msg.guest_id,
                label=msg.label,
                degraded=degraded,
                intent=intent,
                error=error,
                session_id=session,
            )
        )

    def _now(self) -> float:
        # Epoch time read off the monotonic clock: a wall-clock step mid-run moves nothing.
        return self._epoch0 + (time.monotonic() - self._mono0)

    async def _run(self) -> None:
        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._mono0, self._epoch0 = time.monotonic(), time.time()
        self._ready.set()
        limits = httpx.Limits(max_connections=self.max_in_flight, max_keepalive_connections=20)
        in_flight: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(
            base_url=self.agent_url, timeout=self.timeout_s, limits=limits, transport=self.transport
        ) as client:
            for i, msg in enumerate(self.messages()):
                due = self._mono0 + i / self.rate_per_s
                delay = due - time.monotonic()
                if delay > 0:
                    try:
                        await asyncio.wait_for(self._stopping.wait(), delay)
                        break
                    except TimeoutError:
                        pass
                elif self._stopping.is_set():
                    break
                intended = self._epoch0 + (due - self._mono0)
                if len(in_flight) >= self.max_in_flight:
                    now = self._now()
                    self.samples.append(
                        Sample(intended, now, now, 0, msg.channel, msg.message_id, msg.guest_id,
                               msg.label, error=f"not sent: {len(in_flight)} in flight")
                    )  # fmt: skip
                    continue
                for copy in range(len(msg.copies)):
                    task = asyncio.create_task(self._send(client, msg, intended, copy))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
            if in_flight:
                await asyncio.wait(in_flight, timeout=self.timeout_s + 1)

    def start(self) -> OpenLoad:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._run()), name="open-load", daemon=True
        )
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> list[Sample]:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(self.timeout_s + 5)
        return sorted(self.samples, key=lambda s: s.intended_at)

    def __enter__(self) -> OpenLoad:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def play(
    client: httpx.Client, guest_id: str, kind: str, guest: Guest
) -> list[tuple[Turn, dict[str, Any]]]:
    """Hold one conversation of ``kind`` over the message API; each turn with its reply."""
    conversation = DEFAULT_MIX[kind][0](guest)
    exchanged: list[tuple[Turn, dict[str, Any]]] = []
    try:
        turn = next(conversation)
        while True:
            response = client.post(
                MESSAGES,
                json={"guest_id": guest_id, "text": turn.text, "message_id": uuid.uuid4().hex},
            )
            response.raise_for_status()
            reply = response.json()
            exchanged.append((turn, reply))
            turn = conversation.send(reply)
    except StopIteration:
        pass
    return exchanged
