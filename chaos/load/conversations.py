"""Multi-turn guest conversations in Spanish and English, and semantic checks of the replies.

A conversation is a generator: it yields a ``Turn`` (what the guest writes and what a
correct answer looks like), receives the agent's reply (the JSON of ``/api/v1/messages``,
or ``None`` when the channel gives no reply inline, as WhatsApp), and decides the next
turn from it, as a guest would. Checks look at meaning, not wording: the intent, the
language, the dates or booking number the reply must carry, an escalation. A PMS-backed
turn may come back ``degraded`` (the agent could not reach the PMS); that is a correct
answer under a fault, and the guest then ends the conversation.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from chaos.load.stays import Stay, StayPicker, availability_question

Reply = dict[str, Any]
Conversation = Generator["Turn", Reply | None, None]

ROOM_CAPACITY = {"standard": 2, "superior": 3, "deluxe": 3, "suite": 4}
BOOKING_ID = re.compile(r"\bBK-\d{6}\b")
CLOCK = r"\b\d{1,2}:\d{2}\b"
CONFIRM_QUESTION = re.compile(r"\((?:sí|si|yes)/no\)")
REPLY_FIELDS = ("reply", "intent", "language", "degraded", "escalated", "booking_id")


@dataclass(frozen=True)
class Expect:
    """What a correct reply to one turn looks like."""

    intents: frozenset[str]
    contains: tuple[str, ...] = ()  # every string must appear in the reply text
    pattern: str | None = None  # a regex the reply text must match
    escalated: bool | None = None
    pms: bool = False  # backed by the PMS: a degraded reply is an acceptable answer
    booking: bool = False  # a booking id in the reply must be the one returned


@dataclass(frozen=True)
class Turn:
    """One guest message. ``label`` groups the request in the stats (``name=``)."""

    label: str
    text: str
    language: str
    expect: Expect


@dataclass
class Guest:
    """What a returning guest remembers between conversations."""

    rng: random.Random
    stays: StayPicker
    bookings: list[str] = field(default_factory=list)

    def language(self) -> str:
        return "es" if self.rng.random() < 0.6 else "en"


def _expect(*intents: str, **kw: Any) -> Expect:
    return Expect(frozenset(intents), **kw)


def check_text(expect: Expect, text: str) -> str | None:
    """The content checks alone (for channels that only return the text)."""
    if not text.strip():
        return "empty reply"
    missing = [s for s in expect.contains if s not in text]
    if missing:
        return f"reply lacks {missing[0]!r}: {text[:120]!r}"
    if expect.pattern and not re.search(expect.pattern, text):
        return f"reply does not match /{expect.pattern}/: {text[:120]!r}"
    return None


def check_reply(turn: Turn, status: int, body: Any) -> str | None:
    """Why the reply to ``turn`` is wrong, or ``None`` when it is right."""
    if status != 200:
        return f"HTTP {status}"
    if not isinstance(body, dict) or any(k not in body for k in REPLY_FIELDS):
        return "reply does not have the message schema"
    exp = turn.expect
    if body["intent"] not in exp.intents:
        return f"intent {body['intent']!r}, expected {'|'.join(sorted(exp.intents))}"
    if body["language"] != turn.language:
        return f"answered in {body['language']!r} to a {turn.language!r} message"
    if exp.escalated is not None and bool(body["escalated"]) != exp.escalated:
        return "not escalated to staff" if exp.escalated else "escalated unexpectedly"
    text = str(body["reply"])
    if body["degraded"] and exp.pms:
        return None if text.strip() else "empty degraded reply"
    if exp.booking and body["booking_id"] is not None:
        if not BOOKING_ID.fullmatch(str(body["booking_id"])):
            return f"malformed booking id {body['booking_id']!r}"
        if str(body["booking_id"]) not in text:
            return f"booking {body['booking_id']} missing from the reply"
    return check_text(exp, text)


def _pms_unreachable(reply: Reply | None) -> bool:
    """The PMS answer could not be had (degraded and no stale data); the guest gives up."""
    return reply is not None and bool(reply.get("degraded")) and not _has_offers(reply)


def _has_offers(reply: Reply | None) -> bool:
    return reply is not None and "\n- " in str(reply.get("reply", ""))


def _asks_confirmation(reply: Reply | None) -> bool:
    """The agent waits for a yes/no (a booking or late-checkout quote)."""
    return reply is not None and CONFIRM_QUESTION.search(str(reply.get("reply", ""))) is not None


# --- phrasebook -------------------------------------------------------------------------

GREETINGS = {"es": ("Hola", "Hola, buenas tardes", "Buen día"),
             "en": ("Hi there!", "Hello", "Good morning")}  # fmt: skip
GOODBYES = {"es": ("Gracias, chau", "Muchas gracias", "Hasta luego"),
            "en": ("Thanks, bye!", "Thank you", "Goodbye")}  # fmt: skip
ROOM_TYPES_Q = {
    "es": ("¿Qué tipos de habitación tienen?", "¿Cómo son las habitaciones?"),
    "en": ("What room types do you have?", "What kinds of rooms do you have?"),
}
PRICES_Q = {"es": ("¿Cuánto sale la noche?",), "en": ("How much is a night?",)}
CHOOSE_ROOM = {
    "es": ("Quiero reservar la {room}", "Reservame la {room} por favor"),
    "en": ("I'd like to book the {room}", "Please book the {room} room"),
}
YES = {"es": ("sí", "Sí, confirmo", "Dale, confirmo"), "en": ("yes", "yes please")}
NO = {"es": ("no, gracias",), "en": ("no, thanks",)}
LATE_WITH_ID = {
    "es": (
        "Quiero un late checkout para la reserva {bk}",
        "¿Puedo hacer late checkout? Reserva {bk}",
    ),
    "en": ("Can I get a late checkout for booking {bk}?", "Late checkout for booking {bk}, please"),
}
LATE_ASK = {
    "es": ("Quisiera pedir un late checkout", "late checkout por favor"),
    "en": ("Can I check out later on my last day?", "I'd like a late checkout"),
}
URGENT = {
    "es": ("Es urgente, se rompió la ducha y sale agua por todos lados",
           "URGENTE: perdí la llave de la habitación y no puedo entrar"),
    "en": ("This is urgent, water is leaking in my bathroom and I need someone now",
           "urgent, my child is sick, we need a doctor"),
}  # fmt: skip
INFO: dict[str, tuple[dict[str, tuple[str, ...]], Expect]] = {
    "checkin_info": (
        {"es": ("¿A qué hora es el check-in?",), "en": ("What time is check-in?",)},
        _expect("checkin_info", pattern=CLOCK),
    ),
    "checkout_info": (
        {"es": ("¿Hasta qué hora es el check-out?",), "en": ("What time is check-out?",)},
        _expect("checkout_info", pattern=CLOCK),
    ),
    "location": (
        {
            "es": ("¿Dónde están ubicados?", "¿Cuál es la dirección?"),
            "en": ("Where is the hotel?", "What's your address?"),
        },
        _expect("location", contains=("maps.google.com",)),
    ),
    "amenities": (
        {"es": ("¿Tienen piscina y wifi?",), "en": ("What amenities do you have?",)},
        _expect("amenities"),
    ),
    "services": (
        {"es": ("¿Tienen traslado al aeropuerto?",), "en": ("Do you offer airport transfer?",)},
        _expect("services"),
    ),
    "cancellation_policy": (
        {
            "es": ("¿Cuál es la política de cancelación?",),
            "en": ("What is your cancellation policy?",),
        },
        _expect("cancellation_policy"),
    ),
    "business_hours": (
        {"es": ("¿Cuál es el horario de atención?",), "en": ("What are your opening hours?",)},
        _expect("business_hours", pattern=r"\b\d{1,2}:00\b"),
    ),
}


def _quote_expect(dates: tuple[str, str]) -> Expect:
    """A quote for exactly these dates, or (that room type is sold out) a question back."""
    return _expect("reservation", pattern=rf"(?s){dates[0]}.*{dates[1]}|\?\s*$", pms=True)


def _say(guest: Guest, phrases: Mapping[str, tuple[str, ...]], lang: str, **values: str) -> str:
    return guest.rng.choice(phrases[lang]).format(**values)


# --- conversations ----------------------------------------------------------------------


def availability(guest: Guest) -> Conversation:
    """Greets (sometimes), asks for dates, sometimes gets a quote and declines, says goodbye."""
    lang, rng = guest.language(), guest.rng
    if rng.random() < 0.4:
        yield Turn("greeting", _say(guest, GREETINGS, lang), lang, _expect("greeting"))
    stay, party = guest.stays.stay(), guest.stays.party()
    dates = (stay.check_in.isoformat(), stay.check_out.isoformat())
    reply = yield Turn(
        "availability",
        availability_question(stay, party, lang, rng),
        lang,
        _expect("availability", contains=dates, pms=True),
    )
    if _pms_unreachable(reply):
        return
    if _has_offers(reply) and rng.random() < 0.3:
        room = rng.choice([r for r, cap in ROOM_CAPACITY.items() if cap >= party])
        quote = yield Turn(
            "booking:quote", _say(guest, CHOOSE_ROOM, lang, room=room), lang, _quote_expect(dates)
        )
        if _asks_confirmation(quote):
            yield Turn("booking:decline", _say(guest, NO, lang), lang, _expect("reservation"))
            return
    if rng.random() < 0.5:
        yield Turn("goodbye", _say(guest, GOODBYES, lang), lang, _expect("goodbye", "thanks"))


def booking(guest: Guest) -> Conversation:
    """Asks for dates, picks a room type that fits the party, confirms, keeps the number."""
    lang, rng = guest.language(), guest.rng
    stay, party = guest.stays.stay(), guest.stays.party()
    dates = (stay.check_in.isoformat(), stay.check_out.isoformat())
    reply = yield Turn(
        "availability",
        availability_question(stay, party, lang, rng),
        lang,
        _expect("availability", contains=dates, pms=True),
    )
    if reply is not None and (_pms_unreachable(reply) or not _has_offers(reply)):
        return
    room = rng.choice([r for r, cap in ROOM_CAPACITY.items() if cap >= party])
    quote = yield Turn(
        "booking:quote", _say(guest, CHOOSE_ROOM, lang, room=room), lang, _quote_expect(dates)
    )
    # A sold-out room type (or an unreachable PMS) ends it: nothing to confirm.
    if quote is not None and not _asks_confirmation(quote):
        return
    done = yield Turn(
        "booking:confirm",
        _say(guest, YES, lang),
        lang,
        _expect("reservation", pms=True, booking=True),
    )
    if done is not None and done.get("booking_id"):
        guest.bookings.append(str(done["booking_id"]))


def late_checkout(guest: Guest) -> Conversation:
    """Asks for a late checkout on a known booking (then decides), or types a wrong number."""
    lang, rng = guest.language(), guest.rng
    if guest.bookings:
        bk = rng.choice(guest.bookings)
        quote = yield Turn(
            "late_checkout:quote",
            _say(guest, LATE_WITH_ID, lang, bk=bk),
            lang,
            _expect("late_checkout", pattern=rf"{CLOCK}|{bk}", pms=True),
        )
        if not _asks_confirmation(quote):
            return  # not offered for that day (or the PMS is away): nothing to confirm
        answer = YES if rng.random() < 0.7 else NO
        yield Turn(
            "late_checkout:confirm",
            _say(guest, answer, lang),
            lang,
            _expect("late_checkout", pattern=CLOCK, pms=True),
        )
        return
    ask = yield Turn(
        "late_checkout:ask",
        _say(guest, LATE_ASK, lang),
        lang,
        _expect("late_checkout", pattern=r"BK-\d+"),
    )
    if ask is not None and "BK-" not in str(ask.get("reply")):
        return
    wrong = f"BK-9{rng.randint(0, 99_999):05d}"  # beyond any id the lab issues
    yield Turn(
        "late_checkout:unknown_booking",
        wrong,
        lang,
        _expect("late_checkout", contains=(wrong,), pms=True),
    )


def room_options(guest: Guest) -> Conversation:
    """Asks what rooms there are, sometimes what a night costs."""
    lang = guest.language()
    yield Turn(
        "room_options",
        _say(guest, ROOM_TYPES_Q, lang),
        lang,
        _expect("room_options", contains=("Suite", "Deluxe"), pms=True),
    )
    if guest.rng.random() < 0.5:
        yield Turn("prices", _say(guest, PRICES_Q, lang), lang, _expect("prices"))


def information(guest: Guest) -> Conversation:
    """One to three questions about the hotel, then thanks."""
    lang, rng = guest.language(), guest.rng
    for topic in rng.sample(sorted(INFO), k=rng.choice((1, 1, 2, 3))):
        phrases, expect = INFO[topic]
        yield Turn(f"info:{topic}", _say(guest, phrases, lang), lang, expect)
    if rng.random() < 0.5:
        yield Turn("goodbye", _say(guest, GOODBYES, lang), lang, _expect("goodbye", "thanks"))


def urgent(guest: Guest) -> Conversation:
    """An urgent problem: the agent must hand over to staff, at any hour."""
    lang = guest.language()
    yield Turn("urgent", _say(guest, URGENT, lang), lang, _expect("escalation", escalated=True))


ConversationFactory = Callable[[Guest], Conversation]

#: The default guest mix: conversation kind -> (factory, weight). Bookings are a small
#: share because they consume the simulator's inventory.
DEFAULT_MIX: dict[str, tuple[ConversationFactory, int]] = {
    "availability": (availability, 40),
    "information": (information, 25),
    "room_options": (room_options, 15),
    "booking": (booking, 6),
    "late_checkout": (late_checkout, 8),
    "urgent": (urgent, 2),
}
#: Conversations whose turns do not depend on the reply's content (fit for WhatsApp).
REPLY_INDEPENDENT = ("availability", "information", "room_options", "urgent")


def cached_turns(today: date, count: int = 3) -> list[Turn]:
    """A few availability questions on fixed windows: after one warm-up each, all cache hits."""
    rng = random.Random(1)
    turns = []
    for i in range(count):
        check_in = today + timedelta(days=10 + 7 * i)
        stay = Stay(check_in, check_in + timedelta(days=2))
        dates = (stay.check_in.isoformat(), stay.check_out.isoformat())
        turns.append(
            Turn(
                "cached availability",
                availability_question(stay, 2, "es", rng),
                "es",
                _expect("availability", contains=dates, pms=True),
            )
        )
    return turns
