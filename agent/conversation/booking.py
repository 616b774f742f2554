"""The multi-turn booking, late-checkout and cancellation steps.

Each step waits for one slot in ``session.pending`` (dates, room type, a yes or no, a
booking number). A reply that does not fill the slot re-asks it and keeps the booking in
progress; the bookings the agent made are remembered in ``session.context["bookings"]``
for late checkout, cancellation and the payment receipt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from agent.conversation import rooms
from agent.conversation.templates import render
from agent.exceptions import PMSNotFound, PMSRejected, PMSUnavailable
from agent.nlp import Analysis, Entities
from agent.pms import PMSClient
from agent.sessions import Session
from agent.settings import AgentSettings

MAX_REMEMBERED = 5


@dataclass
class Turn:
    """What the agent answers to one message, plus the audit events it caused."""

    text: str
    intent: str
    degraded: bool = False
    escalated: bool = False
    booking_id: str | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    alert: str | None = None  # a reason to tell staff (the orchestrator fires the alert)


def localized(value: Any, lang: str) -> str:
    """A display name that may be a plain string or a per-language ``Localized`` value."""
    return str(value.get(lang)) if hasattr(value, "get") else str(value)


def money(value: Any) -> str:
    return f"{float(value):,.2f}"


def latest_booking(session: Session) -> dict[str, Any] | None:
    bookings = session.context.get("bookings") or []
    return bookings[-1] if bookings else None


class BookingFlows:
    """Booking, late checkout and cancellation, step by step."""

    def __init__(self, settings: AgentSettings, pms: PMSClient) -> None:
        self._settings = settings
        self._pms = pms

    def _unavailable(self, intent: str, lang: str) -> Turn:
        return Turn(render("pms_unavailable", lang), intent=intent, degraded=True)

    async def _caps(self) -> dict[str, int]:
        try:
            return rooms.capacities((await self._pms.room_types()).value)
        except PMSUnavailable:
            return rooms.capacities(None)

    async def room_for(self, ent: Entities, guests: int, wish: str | None = None) -> str | None:
        """The room type the guest named, or the one that fits what they described."""
        if ent.room_type:
            return ent.room_type
        wish = ent.room_wish or wish
        return rooms.resolve(wish, guests, await self._caps()) if wish else None

    async def _ask_room(self, session: Session, lang: str, guests: int, again: bool) -> Turn:
        session.pending = {"kind": "room_type"}
        options = rooms.fitting(guests, await self._caps())
        if not again:
            return Turn(render("ask_room_type", lang), intent="reservation")
        text = render(
            "reask_room_type",
            lang,
            guests=guests,
            options=", ".join(options),
            cheapest=options[0],
        )
        return Turn(text, intent="reservation")

    async def start_booking(
        self, session: Session, analysis: Analysis, wish: str | None = None
    ) -> Turn:
        lang, ent = analysis.language, analysis.entities
        search = session.context.get("last_search")
        wish = ent.room_wish or wish
        if ent.check_in is not None:
            check_out = ent.check_out or date.fromordinal(ent.check_in.toordinal() + 1)
            search = {
                "check_in": ent.check_in.isoformat(),
                "check_out": check_out.isoformat(),
                "guests": rooms.party_size(ent.guests or (search or {}).get("guests"), wish),
            }
            session.context["last_search"] = search
        elif search is not None and ent.guests:
            search["guests"] = ent.guests
        if not search:
            session.pending = {
                "kind": "dates",
                "then": "reservation",
                "wish": ent.room_type or wish,
            }
            return Turn(render("ask_dates", lang), intent="reservation")
        room = await self.room_for(ent, int(search["guests"]), wish)
        if not room:
            return await self._ask_room(session, lang, int(search["guests"]), again=False)
        return await self.quote_booking(session, lang, room, search)

    async def quote_booking(
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
            session.pending = {"kind": "room_type"}
            return Turn(render("booking_unavailable", lang), intent="reservation")
        values = {
            "name": localized(offer.name, lang),
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guests": guests,
            "total": money(offer.total),
            "currency": offer.currency,
        }
        session.pending = {"kind": "booking_confirm", "room_type": room_type, **values}
        text = render("booking_confirm", lang, **values)
        return Turn(text, intent="reservation", degraded=lookup.stale)

    async def finish_booking(
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
            session.pending = {"kind": "room_type"}
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
        del bookings[:-MAX_REMEMBERED]
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

    async def late_checkout(self, session: Session, analysis: Analysis) -> Turn:
        lang, ent = analysis.language, analysis.entities
        remembered = latest_booking(session)
        booking_id = ent.booking_id or (remembered or {}).get("id")
        if not booking_id:
            session.pending = {"kind": "booking_id"}
            return Turn(render("ask_booking_id", lang), intent="late_checkout")
        return await self.late_checkout_quote(session, booking_id, lang)

    async def late_checkout_quote(self, session: Session, booking_id: str, lang: str) -> Turn:
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

    async def finish_late_checkout(
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

    def cancellation(self, session: Session, analysis: Analysis) -> Turn | None:
        """A request to cancel a booking the session knows: handed to staff by number."""
        booking = latest_booking(session)
        booking_id = analysis.entities.booking_id or (booking or {}).get("id")
        if not analysis.entities.wants_cancel or not booking_id:
            return None
        return Turn(
            render("cancellation_requested", analysis.language, booking_id=booking_id),
            intent="cancellation",
            escalated=True,
            booking_id=booking_id,
            alert="cancellation_requested",
            events=[("cancellation", {"booking_id": booking_id, "decision": "requested"})],
        )
