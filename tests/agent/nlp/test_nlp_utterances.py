"""Real guest utterances (Spanish rioplatense and English): intent and key entities."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from agent.nlp import INTENTS, analyze

TODAY = date(2026, 6, 10)  # a Wednesday
LOW = 0.45  # NLPSettings.low_confidence default

D = date
Case = tuple[str, str, dict[str, Any]]

SPANISH: list[Case] = [
    ("Hola!", "greeting", {}),
    ("Buenas tardes", "greeting", {}),
    ("Buen día, ¿cómo estás?", "greeting", {}),
    (
        "Hola, ¿tienen disponibilidad para el 12 de diciembre?",
        "availability",
        {"check_in": D(2026, 12, 12), "check_out": None},
    ),
    (
        "Buenas, quería saber si tienen lugar del 12 al 15 de diciembre para 2 personas",
        "availability",
        {"check_in": D(2026, 12, 12), "check_out": D(2026, 12, 15), "guests": 2},
    ),
    (
        "¿Hay habitaciones libres para este fin de semana?",
        "availability",
        {"check_in": D(2026, 6, 12), "check_out": D(2026, 6, 14)},
    ),
    (
        "¿Tenés lugar para el finde? Somos 3",
        "availability",
        {"check_in": D(2026, 6, 12), "check_out": D(2026, 6, 14), "guests": 3},
    ),
    (
        "che, ¿queda algo disponible para pasado mañana?",
        "availability",
        {"check_in": D(2026, 6, 12)},
    ),
    (
        "del 12 al 15 para 2",
        "availability",
        {"check_in": D(2026, 6, 12), "check_out": D(2026, 6, 15), "guests": 2},
    ),
    (
        "Quiero reservar una suite del 3 al 6 de marzo, somos 2 adultos y un niño",
        "reservation",
        {"check_in": D(2027, 3, 3), "check_out": D(2027, 3, 6), "guests": 3, "room_type": "suite"},
    ),
    (
        "Reservame la doble estándar para mañana",
        "reservation",
        {"check_in": D(2026, 6, 11), "room_type": "standard"},
    ),
    (
        "Quisiera hacer una reserva para dos adultos, 3 noches desde el viernes",
        "reservation",
        {"check_in": D(2026, 6, 12), "check_out": D(2026, 6, 15), "guests": 2},
    ),
    (
        "Me llamo Juan Pérez y quiero reservar para el 20 de julio",
        "reservation",
        {"check_in": D(2026, 7, 20), "guest_name": "Juan Pérez"},
    ),
    (
        "Dale, reservá la habitación de lujo para la semana que viene",
        "reservation",
        {"check_in": D(2026, 6, 15), "room_type": "deluxe"},
    ),
    ("¿Cuánto sale la noche en la superior?", "prices", {"room_type": "superior"}),
    ("¿Qué precio tiene la habitación de lujo?", "prices", {"room_type": "deluxe"}),
    ("¿Cuáles son las tarifas?", "prices", {}),
    ("¿Cuánto cuesta una noche para 2 personas?", "prices", {"guests": 2}),
    ("¿Qué tipos de habitación tienen?", "room_options", {}),
    ("Mostrame las opciones de habitaciones", "room_options", {}),
    (
        "Necesito hacer late checkout, mi reserva es BK-000123",
        "late_checkout",
        {"booking_id": "BK-000123"},
    ),
    ("¿Puedo dejar la habitación más tarde?", "late_checkout", {}),
    ("¿Me puedo quedar hasta las 14 el último día? reserva 123456", "late_checkout", {}),
    ("¿Se puede pedir salida tardía?", "late_checkout", {}),
    ("¿Dónde queda el hotel?", "location", {}),
    ("¿Cuál es la dirección?", "location", {}),
    ("¿Cómo llego desde el aeropuerto?", "location", {}),
    ("¿A qué hora es el check-in?", "checkin_info", {}),
    ("¿Desde qué hora puedo hacer el checkin?", "checkin_info", {}),
    ("¿A qué hora hay que hacer el checkout?", "checkout_info", {}),
    ("¿Cuál es el horario de salida?", "checkout_info", {}),
    ("¿Cuál es la política de cancelación?", "cancellation_policy", {}),
    ("Quiero cancelar mi reserva 45678", "cancellation_policy", {"booking_id": "45678"}),
    ("¿Me devuelven la plata si cancelo? Quiero saber del reembolso", "cancellation_policy", {}),
    ("¿Tienen pileta?", "amenities", {}),
    ("¿El wifi es gratis?", "amenities", {}),
    ("¿Tienen cochera o estacionamiento?", "amenities", {}),
    ("¿Aceptan mascotas?", "amenities", {}),
    ("¿El desayuno está incluido?", "services", {}),
    ("¿Hacen traslados al aeropuerto?", "services", {}),
    ("¿Tienen servicio de lavandería?", "services", {}),
    ("¿Cuál es el horario de atención?", "business_hours", {}),
    ("¿Hasta qué hora atienden?", "business_hours", {}),
    ("Quiero hablar con una persona", "human_agent", {"guests": None}),
    ("Pasame con recepción por favor", "human_agent", {}),
    ("URGENTE se inundó el baño", "human_agent", {"urgent": True}),
    ("No funciona el aire acondicionado de la 204", "human_agent", {}),
    ("Sí", "confirm", {"confirm": True}),
    ("dale", "confirm", {"confirm": True}),
    ("sí, confirmo", "confirm", {"confirm": True}),
    ("Confirmo", "confirm", {"confirm": True}),
    ("no", "confirm", {"confirm": False}),
    ("No, gracias", "confirm", {"confirm": False}),
    ("cancelar", "confirm", {"confirm": False}),
    ("Gracias!", "thanks", {}),
    ("Mil gracias por todo", "thanks", {}),
    ("Chau, hasta luego", "goodbye", {}),
    ("Muchas gracias, chau", "goodbye", {}),
]

ENGLISH: list[Case] = [
    ("Good morning", "greeting", {}),
    ("Hi there", "greeting", {}),
    (
        "Do you have any rooms available this weekend?",
        "availability",
        {"check_in": D(2026, 6, 12), "check_out": D(2026, 6, 14)},
    ),
    (
        "Is there availability for 2 adults and 1 child from December 12 to 15?",
        "availability",
        {"check_in": D(2026, 12, 12), "check_out": D(2026, 12, 15), "guests": 3},
    ),
    (
        "Any vacancies tomorrow for two guests?",
        "availability",
        {"check_in": D(2026, 6, 11), "guests": 2},
    ),
    (
        "I'd like to book a deluxe room from December 12 to 15 for two guests",
        "reservation",
        {
            "check_in": D(2026, 12, 12),
            "check_out": D(2026, 12, 15),
            "guests": 2,
            "room_type": "deluxe",
        },
    ),
    (
        "Please book the suite Dec 12-15, my name is John Smith",
        "reservation",
        {
            "check_in": D(2026, 12, 12),
            "check_out": D(2026, 12, 15),
            "room_type": "suite",
            "guest_name": "John Smith",
        },
    ),
    (
        "I want to make a reservation for 3 nights from Friday",
        "reservation",
        {"check_in": D(2026, 6, 12), "check_out": D(2026, 6, 15)},
    ),
    ("How much is a suite per night?", "prices", {"room_type": "suite"}),
    ("What are your rates for next week?", "prices", {"check_in": D(2026, 6, 15)}),
    ("What types of rooms do you have?", "room_options", {}),
    (
        "Can I get a late checkout? Booking BK-000045",
        "late_checkout",
        {"booking_id": "BK-000045"},
    ),
    ("Could we check out later, around 2 pm?", "late_checkout", {}),
    ("Where is the hotel located?", "location", {}),
    ("How do I get there from the airport?", "location", {}),
    ("What time is check-in?", "checkin_info", {}),
    ("When is checkout?", "checkout_info", {}),
    ("What is your cancellation policy?", "cancellation_policy", {}),
    ("Can I get a refund if I cancel?", "cancellation_policy", {}),
    ("Do you have a pool?", "amenities", {}),
    ("Is there free parking and wifi?", "amenities", {}),
    ("Is breakfast included?", "services", {}),
    ("Do you offer an airport shuttle?", "services", {}),
    ("What are your opening hours?", "business_hours", {}),
    ("I want to talk to a human", "human_agent", {}),
    ("Can I speak to someone at the front desk? It's urgent", "human_agent", {"urgent": True}),
    ("yes", "confirm", {"confirm": True}),
    ("ok", "confirm", {"confirm": True}),
    ("Yes please, go ahead", "confirm", {"confirm": True}),
    ("nope", "confirm", {"confirm": False}),
    ("no thanks", "confirm", {"confirm": False}),
    ("Thanks a lot!", "thanks", {}),
    ("Thank you so much", "thanks", {}),
    ("Bye", "goodbye", {}),
    ("See you tomorrow, goodbye", "goodbye", {}),
]

CASES = SPANISH + ENGLISH
# One-word answers shared by both languages carry no signal: they get the default, "es".
NEUTRAL = {"ok"}


def test_table_is_big_and_covers_every_intent_but_unknown() -> None:
    assert len(CASES) >= 60
    covered = {intent for _, intent, _ in CASES}
    assert covered == set(INTENTS) - {"unknown"}


@pytest.mark.parametrize(("text", "intent", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_utterance(text: str, intent: str, expected: dict[str, Any]) -> None:
    result = analyze(text, today=TODAY)
    assert result.intent == intent, (result.intent, result.confidence)
    assert result.confidence >= LOW
    for name, value in expected.items():
        assert getattr(result.entities, name) == value, name


@pytest.mark.parametrize(
    ("text", "language"),
    [(c[0], "es") for c in SPANISH] + [(c[0], "en") for c in ENGLISH if c[0] not in NEUTRAL],
)
def test_language_of_each_utterance(text: str, language: str) -> None:
    assert analyze(text, today=TODAY).language == language


@pytest.mark.parametrize("text", sorted(NEUTRAL))
def test_neutral_answer_takes_the_default_language(text: str) -> None:
    assert analyze(text, today=TODAY).language == "es"
