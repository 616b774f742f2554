"""Intent flows: answers backed by the PMS, and which multi-turn step a message serves.

Multi-turn state lives in ``session.pending`` (what the agent is waiting for) and
``session.context`` (the last search, the guest's bookings), so a conversation survives
agent restarts. The booking steps themselves are in ``booking.py``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from agent.conversation import rooms
from agent.conversation.booking import BookingFlows, Turn, localized, money
from agent.conversation.templates import render
from agent.exceptions import PMSRejected, PMSUnavailable
from agent.nlp import Analysis
from agent.sessions import Session

__all__ = ["STATIC_INTENTS", "Flows", "Turn"]

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
# Intents that start something new: they replace a step in progress.
NEW_TASKS = {"reservation", "availability", "prices", "late_checkout", "room_options"}


class Flows(BookingFlows):
    """Intent handlers that need the PMS or the session's multi-turn state."""

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
        if intent == "cancellation_policy":
            cancel = self.cancellation(session, analysis)
            if cancel is not None:
                return cancel
        if intent in STATIC_INTENTS:
            return Turn(self._static(intent, lang), intent=intent)
        if intent == "confirm":
            return Turn(render("confirm_nothing_pending", lang), intent=intent)
        if intent == "room_options" and not (ent.check_in and (ent.room_type or ent.room_wish)):
            return await self._room_options(lang)
        if intent in ("availability", "prices", "room_options"):
            if ent.check_in is None:
                if intent == "prices":
                    return Turn(render("prices", lang), intent=intent)
                wish = ent.room_type or ent.room_wish
                session.pending = {"kind": "dates", "then": "availability", "wish": wish}
                return Turn(render("ask_dates", lang), intent=intent)
            if ent.room_type or ent.room_wish:  # "¿tienen doble del 19 al 21?": offer it
                return await self.start_booking(session, analysis)
            return await self._availability(session, analysis, ent.check_in, ent.check_out)
        if intent == "reservation":
            return await self.start_booking(session, analysis)
        if intent == "late_checkout":
            return await self.late_checkout(session, analysis)
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
                return await self.finish_booking(session, pending, ent.confirm, lang, msg)
            return await self.finish_late_checkout(pending, ent.confirm, lang)
        if kind == "booking_confirm" and (ent.room_type or ent.room_wish) and not ent.check_in:
            search = {k: pending[k] for k in ("check_in", "check_out", "guests")}
            room = await self.room_for(ent, int(search["guests"]))
            if room and room != pending["room_type"]:  # the guest picked another room
                return await self.quote_booking(session, lang, room, search)
        if kind == "dates":
            if ent.check_in is not None:
                session.pending = None
                if pending.get("then") == "reservation" or pending.get("wish"):
                    return await self.start_booking(session, analysis, pending.get("wish"))
                return await self._availability(session, analysis, ent.check_in, ent.check_out)
            if ent.room_wish or ent.room_type:
                pending["wish"] = ent.room_type or ent.room_wish
        if kind == "room_type" and ent.check_in is None:  # new dates are a new search
            last = session.context.get("last_search")
            if not last:
                session.pending = {"kind": "dates", "then": "reservation"}
                return Turn(render("ask_dates", lang), intent="reservation")
            if ent.guests:
                last["guests"] = ent.guests
            room = await self.room_for(ent, int(last["guests"]))
            if room:
                session.pending = None
                return await self.quote_booking(session, lang, room, last)
            if ent.guests:
                return await self._ask_room(session, lang, int(last["guests"]), again=True)
        if kind == "booking_id" and ent.booking_id:
            session.pending = None
            return await self.late_checkout_quote(session, ent.booking_id, lang)
        return None

    async def reask(self, session: Session, lang: str) -> Turn:
        """Ask again for what the step in progress waits for; it stays in progress."""
        pending = session.pending or {}
        kind = pending.get("kind")
        if kind == "room_type":
            search = session.context.get("last_search") or {}
            return await self._ask_room(session, lang, int(search.get("guests", 2)), again=True)
        if kind == "booking_confirm":
            text = render("reask_booking_confirm", lang, **pending)
            return Turn(text, intent="reservation")
        if kind == "late_checkout_confirm":
            text = render("reask_late_checkout_confirm", lang, **pending)
            return Turn(text, intent="late_checkout")
        if kind == "booking_id":
            return Turn(render("ask_booking_id", lang), intent="late_checkout")
        return Turn(render("ask_dates", lang), intent="reservation")

    def interrupts(self, analysis: Analysis, low_confidence: float) -> bool:
        """Whether a message that did not answer the pending step starts something else."""
        if analysis.confidence < low_confidence:
            return False
        if analysis.intent in NEW_TASKS:
            return analysis.intent != "room_options" or analysis.entities.check_in is not None
        return analysis.intent == "cancellation_policy" and analysis.entities.wants_cancel

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
        guests = rooms.party_size(ent.guests, ent.room_wish)
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
