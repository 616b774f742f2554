"""Intent flows: answers backed by the PMS, and the multi-turn booking and late-checkout steps.

Multi-turn state lives in ``session.pending`` (what the agent is waiting for) and
``session.context`` (the last search), so a conversation survives agent restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from agent.conversation.templates import render
from agent.exceptions import PMSNotFound, PMSRejected, PMSUnavailable
from agent.nlp import Analysis
from agent.pms import PMSClient
from agent.sessions import Session
from agent.settings import AgentSettings

STATIC_INTENTS = {
    "greeting",
    "goodbye",
    "thanks",
    "location",
    "checkin_info",
    "checkout_info",
    "cancellation_policy",
    "amenities",
    "services",
    "business_hours",
}


@dataclass
class Turn:
    """What the agent answers to one message, plus the audit events it caused."""

    text: str
    intent: str
    degraded: bool = False
    escalated: bool = False
    booking_id: str | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def localized(value: Any, lang: str) -> str:
    """A display name that may be a plain string or a per-language ``Localized`` value."""
    return str(value.get(lang)) if hasattr(value, "get") else str(value)


def money(value: Any) -> str:
    return f"{float(value):,.2f}"


class Flows:
    """Intent handlers that need the PMS or the session's multi-turn state."""

    def __init__(self, settings: AgentSettings, pms: PMSClient) -> None:
        self._settings = settings
        self._pms = pms

    def _static(self, intent: str, lang: str) -> str:
        h = self._settings.hotel
        values = {
            "hotel": h.name,
            "address": h.address,
            "lat": h.latitude,
            "lon": h.longitude,
            "checkin_time": h.checkin_time,
            "checkout_time": h.checkout_time,
            "late_time": h.late_checkout_time,
            "open": h.business_open_hour,
            "close": h.business_close_hour,
        }
        return render(intent, lang, **values)

    async def answer(self, session: Session, analysis: Analysis, msg: Any) -> Turn:
        """Answer a confident intent with nothing pending."""
        intent, lang, ent = analysis.intent, analysis.language, analysis.entities
        session.pending = None
        if intent in STATIC_INTENTS:
            return Turn(self._static(intent, lang), intent=intent)
        if intent == "confirm":
            return Turn(render("confirm_nothing_pending", lang), intent=intent)
        if intent == "room_options":
            return await self._room_options(lang)
        if intent in ("availability", "prices"):
            if ent.check_in is None:
                if intent == "prices":
                    return Turn(render("prices", lang), intent=intent)
                session.pending = {"kind": "dates", "then": "availability"}
                return Turn(render("ask_dates", lang), intent=intent)
            return await self._availability(session, analysis, ent.check_in, ent.check_out)
        if intent == "reservation":
            return await self._start_booking(session, analysis, msg)
        if intent == "late_checkout":
            if not ent.booking_id:
                session.pending = {"kind": "booking_id"}
                return Turn(render("ask_booking_id", lang), intent=intent)
            return await self._late_checkout_quote(session, ent.booking_id, lang)
        return Turn(render("fallback", lang), intent=intent)

    async def continue_pending(self, session: Session, analysis: Analysis, msg: Any) -> Turn | None:
        """Advance a multi-turn step if this message answers it, else ``None``."""
        pending = session.pending
        if not pending:
            return None
        ent, lang = analysis.entities, analysis.language
        kind = pending["kind"]
        if kind in ("booking_confirm", "late_checkout_confirm") and ent.confirm is not None:
            session.pending = None
            if kind == "booking_confirm":
                return await self._finish_booking(session, pending, ent.confirm, lang, msg)
            return await self._finish_late_checkout(pending, ent.confirm, lang)
        if kind == "dates" and ent.check_in is not None:
            session.pending = None
            if pending.get("then") == "reservation":
                return await self._start_booking(session, analysis, msg)
            return await self._availability(session, analysis, ent.check_in, ent.check_out)
        if kind == "room_type" and ent.room_type:
            session.pending = None
            search = session.context.get("last_search")
            if not search:
                session.pending = {"kind": "dates", "then": "reservation"}
                return Turn(render("ask_dates", lang), intent="reservation")
            return await self._quote_booking(session, lang, ent.room_type, search)
        if kind == "booking_id" and ent.booking_id:
            session.pending = None
            return await self._late_checkout_quote(session, ent.booking_id, lang)
        return None

    def _unavailable(self, intent: str, lang: str) -> Turn:
        return Turn(render("pms_unavailable", lang), intent=intent, degraded=True)

    async def _room_options(self, lang: str) -> Turn:
        try:
            lookup = await self._pms.room_types()
        except PMSUnavailable:
            return self._unavailable("room_options", lang)
        lines = [render("room_options_header", lang)]
        for rt in lookup.value:
            lines.append(
                render(
                    "room_option_line",
                    lang,
                    name=localized(rt.name, lang),
                    capacity=rt.capacity,
                    rate=money(rt.base_rate),
                    currency=rt.currency,
                )
            )
        if lookup.stale:
            lines.append(render("stale_note", lang))
        return Turn("\n".join(lines), intent="room_options", degraded=lookup.stale)

    async def _availability(
        self, session: Session, analysis: Analysis, check_in: date, check_out: date | None
    ) -> Turn:
        lang, ent = analysis.language, analysis.entities
        check_out = check_out or date.fromordinal(check_in.toordinal() + 1)
        guests = ent.guests or 2
        session.context["last_search"] = {
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guests": guests,
        }
        try:
            lookup = await self._pms.availability(check_in, check_out, guests, ent.room_type)
        except PMSUnavailable:
            return self._unavailable("availability", lang)
        except PMSRejected:
            # Dates the PMS does not sell (past, too far ahead, too long a stay).
            session.context.pop("last_search", None)
            return Turn(render("dates_rejected", lang), intent="availability")
        offers = [o for o in lookup.value if o.available > 0]
        values = {
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guests": guests,
            "nights": (check_out - check_in).days,
        }
        if not offers:
            return Turn(
                render("availability_none", lang, **values),
                intent="availability",
                degraded=lookup.stale,
            )
        lines = [render("availability_header", lang, **values)]
        for o in offers:
            lines.append(
                render(
                    "availability_line",
                    lang,
                    name=localized(o.name, lang),
                    available=o.available,
                    nightly=money(o.total / max(o.nights, 1)),
                    total=money(o.total),
                    currency=o.currency,
                )
            )
        lines.append(render("availability_offer_booking", lang))
        if lookup.stale:
            lines.append(render("stale_note", lang))
        session.pending = {"kind": "room_type"}
        return Turn("\n".join(lines), intent="availability", degraded=lookup.stale)

    async def _start_booking(self, session: Session, analysis: Analysis, msg: Any) -> Turn:
        lang, ent = analysis.language, analysis.entities
        search = session.context.get("last_search")
        if ent.check_in is not None:
            check_out = ent.check_out or date.fromordinal(ent.check_in.toordinal() + 1)
            search = {
                "check_in": ent.check_in.isoformat(),
                "check_out": check_out.isoformat(),
                "guests": ent.guests or (search or {}).get("guests") or 2,
            }
            session.context["last_search"] = search
        if not search:
            session.pending = {"kind": "dates", "then": "reservation"}
            return Turn(render("ask_dates", lang), intent="reservation")
        if not ent.room_type:
            session.pending = {"kind": "room_type"}
            return Turn(render("ask_room_type", lang), intent="reservation")
        return await self._quote_booking(session, lang, ent.room_type, search)

    async def _quote_booking(
        self, session: Session, lang: str, room_type: str, search: dict[str, Any]
    ) -> Turn:
        """Price ``room_type`` for the searched stay and ask the guest to confirm."""
        check_in = date.fromisoformat(search["check_in"])
        check_out = date.fromisoformat(search["check_out"])
        guests = int(search["guests"])
        try:
            lookup = await self._pms.availability(check_in, check_out, guests, room_type)
        except PMSUnavailable:
            return self._unavailable("reservation", lang)
        except PMSRejected:
            session.context.pop("last_search", None)
            return Turn(render("dates_rejected", lang), intent="reservation")
        offer = next(
            (o for o in lookup.value if o.room_type == room_type and o.available > 0), None
        )
        if offer is None:
            return Turn(render("booking_unavailable", lang), intent="reservation")
        session.pending = {
            "kind": "booking_confirm",
            "room_type": room_type,
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guests": guests,
        }
        text = render(
            "booking_confirm",
            lang,
            name=localized(offer.name, lang),
            check_in=check_in.isoformat(),
            check_out=check_out.isoformat(),
            guests=guests,
            total=money(offer.total),
            currency=offer.currency,
        )
        return Turn(text, intent="reservation", degraded=lookup.stale)

    async def _finish_booking(
        self, session: Session, pending: dict[str, Any], confirmed: bool, lang: str, msg: Any
    ) -> Turn:
        if not confirmed:
            return Turn(
                render("booking_cancelled", lang),
                intent="reservation",
                events=[("booking", {"decision": "declined"})],
            )
        try:
            booking = await self._pms.create_booking(
                room_type=pending["room_type"],
                check_in=date.fromisoformat(pending["check_in"]),
                check_out=date.fromisoformat(pending["check_out"]),
                guests=int(pending["guests"]),
                guest_name=msg.guest_name or msg.guest_id,
                guest_id=msg.guest_id,
            )
        except PMSUnavailable:
            session.pending = pending  # the guest can confirm again once the PMS is back
            return self._unavailable("reservation", lang)
        except PMSRejected:
            return Turn(render("booking_unavailable", lang), intent="reservation")
        name = pending["room_type"]
        # Remembered for late checkout, cancellation and the payment receipt.
        bookings = session.context.setdefault("bookings", [])
        bookings.append(
            {
                "id": booking.id,
                "room_type": name,
                "check_in": pending["check_in"],
                "check_out": pending["check_out"],
                "payment": "pending",
            }
        )
        del bookings[:-5]
        text = render(
            "booking_done",
            lang,
            booking_id=booking.id,
            name=name,
            check_in=pending["check_in"],
            check_out=pending["check_out"],
        )
        return Turn(
            text,
            intent="reservation",
            booking_id=booking.id,
            events=[
                (
                    "booking",
                    {
                        "decision": "confirmed",
                        "booking_id": booking.id,
                        "room_type": name,
                        "check_in": pending["check_in"],
                        "check_out": pending["check_out"],
                    },
                )
            ],
        )

    async def _late_checkout_quote(self, session: Session, booking_id: str, lang: str) -> Turn:
        try:
            quote = await self._pms.late_checkout_quote(booking_id)
        except PMSNotFound:
            return Turn(
                render("booking_not_found", lang, booking_id=booking_id), intent="late_checkout"
            )
        except PMSUnavailable:
            return self._unavailable("late_checkout", lang)
        if not quote.available:
            return Turn(
                render("late_checkout_unavailable", lang, booking_id=booking_id),
                intent="late_checkout",
                events=[("late_checkout", {"decision": "unavailable", "booking_id": booking_id})],
            )
        values = {
            "late_time": quote.late_checkout_time,
            "checkout_time": quote.standard_checkout,
            "fee": money(quote.fee),
            "currency": quote.currency,
        }
        session.pending = {"kind": "late_checkout_confirm", "booking_id": booking_id, **values}
        return Turn(render("late_checkout_offer", lang, **values), intent="late_checkout")

    async def _finish_late_checkout(
        self, pending: dict[str, Any], confirmed: bool, lang: str
    ) -> Turn:
        booking_id = pending["booking_id"]
        if not confirmed:
            return Turn(
                render("late_checkout_declined", lang, checkout_time=pending["checkout_time"]),
                intent="late_checkout",
                events=[("late_checkout", {"decision": "declined", "booking_id": booking_id})],
            )
        try:
            await self._pms.confirm_late_checkout(booking_id)
        except PMSUnavailable:
            return self._unavailable("late_checkout", lang)
        except PMSRejected:
            return Turn(
                render("late_checkout_unavailable", lang, booking_id=booking_id),
                intent="late_checkout",
            )
        return Turn(
            render(
                "late_checkout_done",
                lang,
                late_time=pending["late_time"],
                fee=pending["fee"],
                currency=pending["currency"],
            ),
            intent="late_checkout",
            events=[
                (
                    "late_checkout",
                    {"decision": "confirmed", "booking_id": booking_id, "fee": pending["fee"]},
                )
            ],
        )
