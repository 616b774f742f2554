"""Entities besides dates: guests, room type, booking id, guest name, yes/no, urgency."""

from __future__ import annotations

from datetime import date

import pytest

from agent.nlp import Entities, analyze

TODAY = date(2026, 6, 10)


def _entities(text: str) -> Entities:
    return analyze(text, today=TODAY).entities


@pytest.mark.parametrize(
    ("text", "guests"),
    [
        ("para 2 personas", 2),
        ("somos 3", 3),
        ("dos adultos", 2),
        ("for two guests", 2),
        ("2 adults and 1 child", 3),
        ("2 adults and a child", 3),
        ("dos adultos y un niño", 3),
        ("2 adultos y 2 niños", 4),
        ("somos 2 adultos y 1 niño", 3),  # the parts add up to more than "somos 2"
        ("we are 4", 4),
        ("we're five", 5),
        ("party of 6", 6),
        ("the 3 of us", 3),
        ("una pareja", 2),
        ("my wife and I", 2),
        ("solo yo", 1),
        ("una habitación para dos", 2),
        ("para 2 del 12 al 15", 2),
        ("una persona", 1),
        ("SOMOS TRES", 3),
        ("3 noches", None),
        ("para el 2 de mayo", None),
        ("for 2 nights", None),
        ("a couple of nights", None),
        ("Quiero hablar con una persona", None),
        ("is a guest allowed to smoke?", None),
        ("somos 50 personas", None),  # beyond a plausible booking: left to a human
        ("habitación para 2 a las 14 hs", 2),
    ],
)
def test_guests(text: str, guests: int | None) -> None:
    assert _entities(text).guests == guests


@pytest.mark.parametrize(
    ("text", "room_type"),
    [
        ("doble estándar", "standard"),
        ("una habitación standard", "standard"),
        ("la suite", "suite"),
        ("SUITE", "suite"),
        ("junior suite", "suite"),
        ("la superior", "superior"),
        ("habitación de lujo", "deluxe"),
        ("deluxe room", "deluxe"),
        ("la básica", "standard"),
        ("suite o superior?", "suite"),  # the first one named
        ("en el piso superior", None),
        ("habitación doble", None),  # occupancy, not a category
        ("una habitación", None),
    ],
)
def test_room_type(text: str, room_type: str | None) -> None:
    assert _entities(text).room_type == room_type


@pytest.mark.parametrize(
    ("text", "booking_id"),
    [
        ("mi reserva es BK-000123", "BK-000123"),
        ("bk123", "BK-000123"),
        ("BK 45", "BK-000045"),
        ("reserva 123456", "123456"),
        ("mi número de reserva es 98765", "98765"),
        ("booking #55555", "55555"),
        ("confirmation code: 1234", "1234"),
        ("  123456 ", "123456"),
        ("reserva para el 12/12/2026", None),
        ("reserva para 2 personas", None),
        ("reservation for 2026-12-12", None),
        ("habitación 204", None),
    ],
)
def test_booking_id(text: str, booking_id: str | None) -> None:
    assert _entities(text).booking_id == booking_id


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Me llamo Juan Pérez y quiero reservar", "Juan Pérez"),
        ("me llamo juan pablo", "Juan Pablo"),
        ("Mi nombre es Ana", "Ana"),
        ("my name is john smith, booking for two", "John Smith"),
        ("Soy María López, tengo una reserva", "María López"),
        ("Hi, I'm Sarah. We are 4", "Sarah"),
        ("a nombre de María de los Ángeles Pérez", "María de los Ángeles Pérez"),
        ("Nombre: Ana Gómez", "Ana Gómez"),
        ("soy de Córdoba", None),
        ("i'm looking for a room", None),
        ("el nombre del hotel?", None),
        ("Soy el de la 204", None),
    ],
)
def test_guest_name(text: str, name: str | None) -> None:
    assert _entities(text).guest_name == name


@pytest.mark.parametrize(
    ("text", "confirm", "intent"),
    [
        ("sí", True, "confirm"),
        ("Si", True, "confirm"),
        ("siii", True, "confirm"),
        ("dale", True, "confirm"),
        ("ok", True, "confirm"),
        ("ok gracias", True, "confirm"),
        ("de una", True, "confirm"),
        ("perfecto, gracias!", True, "confirm"),
        ("sí, no hay problema", True, "confirm"),
        ("yes please", True, "confirm"),
        ("sure", True, "confirm"),
        ("\N{THUMBS UP SIGN}", True, "confirm"),
        ("\N{THUMBS UP SIGN} gracias", True, "confirm"),
        ("¡Sí! reservalo", True, "reservation"),
        ("no", False, "confirm"),
        ("nooo", False, "confirm"),
        ("No, gracias", False, "confirm"),
        ("cancelar", False, "confirm"),
        ("nope", False, "confirm"),
        ("mejor no", False, "confirm"),
        ("no thanks", False, "confirm"),
        ("Confirmo la reserva", True, "confirm"),
        ("Sí, quiero reservar del 12 al 15 de diciembre", True, "reservation"),
        ("Sí quiero la suite", True, "reservation"),  # the accent says it is not "if"
        ("si llego tarde, ¿pierdo la reserva?", None, "reservation"),
        ("no tengo reserva", None, "reservation"),
        ("No, mejor la suite. ¿Cuánto sale?", False, "prices"),
        ("gracias", None, "thanks"),
    ],
)
def test_yes_no_answers(text: str, confirm: bool | None, intent: str) -> None:
    result = analyze(text, today=TODAY)
    assert (result.entities.confirm, result.intent) == (confirm, intent)


def test_mixed_answer_is_a_confirm_with_medium_confidence() -> None:
    result = analyze("no... sí", today=TODAY)
    assert result.intent == "confirm"
    assert result.entities.confirm is False
    assert 0.45 <= result.confidence < 0.75


@pytest.mark.parametrize(
    ("text", "urgent", "intent"),
    [
        ("urgente", True, "human_agent"),
        ("Es URGENTE!!", True, "human_agent"),
        ("emergencia médica en la 204", True, "human_agent"),
        ("This is an emergency", True, "human_agent"),
        ("Quiero reservar urgente para hoy", True, "reservation"),
        ("I urgently need the address", True, "location"),
        ("¿Tienen pileta?", False, "amenities"),
    ],
)
def test_urgent_regardless_of_intent(text: str, urgent: bool, intent: str) -> None:
    result = analyze(text, today=TODAY)
    assert (result.entities.urgent, result.intent) == (urgent, intent)
