"""Intent rule tables: cue phrases with weights (data only; the engine scores them).

Phrases are written folded (lower case, no accents) and matched as whole words against the
message's token text; a trailing ``*`` on a word matches any ending (``reserv*``). A cue
that sits inside a longer matching cue does not count ("checkout" inside "late checkout").
"""

from __future__ import annotations

# Weight tiers. One STRONG cue alone gives a high confidence, one WEAK cue a medium one,
# and a BOOST cue never decides an intent on its own (it is below the engine's minimum).
DECISIVE = 1.5  # names the intent outright ("late checkout", "politica de cancelacion")
STRONG = 1.0
MEDIUM = 0.6
WEAK = 0.4
BOOST = 0.2

INTENTS = (
    "greeting", "goodbye", "thanks", "availability", "room_options", "reservation",
    "late_checkout", "location", "checkin_info", "checkout_info", "cancellation_policy",
    "amenities", "services", "prices", "business_hours", "human_agent", "confirm", "unknown",
)  # fmt: skip

# Social intents only win when no task intent matched ("hola, ¿tienen lugar?" is availability)
# and never count as a competitor that lowers a task intent's confidence.
SOCIAL = frozenset({"greeting", "goodbye", "thanks"})

# Cue phrases per intent and weight tier, comma-separated.
CUES: dict[str, dict[float, str]] = {
    "greeting": {
        STRONG: (
            "hola, holis, buen dia, buenos dias, buenas tardes, hello, hi, good morning, "
            "good afternoon, good evening"
        ),
        MEDIUM: "buenas, buenas noches, que tal, como estas, hey, saludos",
    },
    "goodbye": {
        STRONG: "chau, chao, adios, hasta luego, hasta pronto, nos vemos, bye, goodbye, see you",
        MEDIUM: "hasta manana, good night, eso es todo, that's all",
        WEAK: "buenas noches",
    },
    "thanks": {
        STRONG: (
            "gracias, muchas gracias, mil gracias, te agradezco, les agradezco, grax, "
            "thanks, thank you, thx, much appreciated"
        ),
        MEDIUM: "agradecid*, ty",
        WEAK: "cheers",
    },
    "availability": {
        STRONG: (
            "disponibilidad, tienen lugar, tenes lugar, hay lugar, queda lugar, hay cupo, "
            "tienen habitacion*, tenes habitacion*, hay habitacion*, quedan habitacion*, "
            "availability, vacanc*, any rooms"
        ),
        MEDIUM: "disponible*, lugar para, available, have a room, have rooms, free room*",
        WEAK: "libre*, tendrian, do you have",
        BOOST: "habitacion*, room, rooms",
    },
    "room_options": {
        STRONG: (
            "tipos de habitacion*, tipo de habitacion*, como son las habitaciones, "
            "room types, types of room*, kind of room*, kinds of room*, room options, "
            "rooms look like"
        ),
        MEDIUM: "que habitaciones, que tipo*, categorias, que opciones, what rooms, categories",
        WEAK: "opciones, fotos, mostrame, options, photos, pictures",
    },
    "reservation": {
        STRONG: (
            "reservar, reservo, reservame, reservemos, hacer una reserva, hacer la reserva, "
            "quiero una reserva, reservalo, reservala, reservamelo, reservamela, reservanos, "
            "reserven, reservenme, book, book a room, book it, book me, make a reservation, "
            "reserve"
        ),
        MEDIUM: "me la quedo, me quedo con, i'll take it, i will take it, i'll take the",
        WEAK: (
            "una reserva, reserva, la tomo, booking, reservation, quiero la, queremos la, "
            "quiero una habitacion, i want the, i'd like the"
        ),
    },
    "late_checkout": {
        DECISIVE: "late checkout, salida tardia, checkout tardio",
        STRONG: (
            "checkout mas tarde, salir mas tarde, irme mas tarde, irnos mas tarde, "
            "dejar la habitacion mas tarde, quedarme mas tarde, quedarnos mas tarde, "
            "extender la salida, extender el checkout, later checkout, checkout later, "
            "extend my checkout, extend checkout, leave later, stay later, ir mas tarde, "
            "quedarnos hasta mas tarde, leave late, check out late"
        ),
        MEDIUM: "hasta las 14, until 2pm, until 2 pm",
        WEAK: "hasta las 2",
        BOOST: "mas tarde",
    },
    "location": {
        STRONG: (
            "donde queda*, donde estan, donde esta el hotel, direccion, ubicacion, "
            "como llego, como llegar, como llegamos, where are you, where is the hotel, "
            "address, location, directions, how do i get, how to get"
        ),
        MEDIUM: "ubicad*, mapa, where is, located, map",
        WEAK: "cerca de, lejos, barrio, aeropuerto, near, nearby, far from, airport",
        BOOST: "donde, where",
    },
    "checkin_info": {
        STRONG: (
            "checkin, hora de entrada, horario de entrada, hora de ingreso, "
            "horario de ingreso, cuando puedo entrar, early checkin"
        ),
        MEDIUM: (
            "llegar temprano, llegamos temprano, arrive early, puedo llegar, podemos llegar, "
            "llegar a las, llegamos a las, llego a las, llegar tarde, llegamos tarde, "
            "can i arrive, can we arrive, late arrival, arrive late"
        ),
        WEAK: "ingresar",
        BOOST: "a que hora, what time",
    },
    "checkout_info": {
        STRONG: "checkout, hora de salida, horario de salida",
        MEDIUM: "dejar la habitacion, entregar la habitacion",
        BOOST: "a que hora, what time",
    },
    "cancellation_policy": {
        DECISIVE: "politica de cancelacion, cancellation policy",
        STRONG: (
            "cancelacion, cancelar la reserva, cancelar mi reserva, se puede cancelar, "
            "reembolso, cancellation, cancel my booking, cancel my reservation, "
            "cancel the booking, free cancellation, refund*"
        ),
        MEDIUM: "anular, devolucion",
        WEAK: "cancelar, cancel",
    },
    "amenities": {
        DECISIVE: "lugar para estacionar, donde estacionar",
        STRONG: (
            "comodidades, amenities, instalaciones, facilities, piscina, pileta, pool, "
            "gimnasio, gym, wifi, internet, spa, sauna, jacuzzi, estacionamiento, cochera, "
            "parking, aire acondicionado, air conditioning, pet friendly, estacionar"
        ),
        MEDIUM: (
            "garage, calefaccion, heating, mascota*, pets, perro*, gato*, dog*, fumar, smoking"
        ),
        WEAK: "terraza, rooftop, balcon, balcony, que incluye, what's included",
    },
    "services": {
        DECISIVE: "incluye desayuno, desayuno incluido, breakfast included, includes breakfast",
        STRONG: (
            "servicios, services, desayuno, breakfast, room service, "
            "servicio a la habitacion, servicio de habitacion*, lavanderia, laundry, "
            "traslado*, transfer, shuttle, guardar las valijas, guardar el equipaje, "
            "housekeeping, wake up call"
        ),
        MEDIUM: (
            "equipaje, luggage, limpieza, toallas, towels, restaurante, restaurant, "
            "excursion*, tours, conserjeria, concierge, cuna, crib, despertador, factura, "
            "invoice, receipt"
        ),
        WEAK: "taxi, valija*",
    },
    "prices": {
        STRONG: (
            "precio*, cuanto sale*, cuanto cuesta*, tarifa*, costo*, cotizacion, "
            "presupuesto, price*, how much, rates, cost*"
        ),
        MEDIUM: (
            "cuanto es, formas de pago, medios de pago, rate, quote, tarjeta*, credito, "
            "debito, efectivo, transferencia, mercado pago, credit card, cash, descuento*, "
            "promo*, oferta*, discount*, deal*"
        ),
        WEAK: "cuanto, valor, por noche, per night, barat*, cheap*, payment",
        BOOST: "pesos, dolares, usd, dollars",
    },
    "business_hours": {
        DECISIVE: "horario de atencion, opening hours, business hours",
        STRONG: (
            "horario de recepcion, a que hora abren, a que hora cierran, "
            "hasta que hora atienden, office hours, your hours, are you open"
        ),
        MEDIUM: "horarios, atienden, abren, cierran, abierto*",
        WEAK: "horario, open, close, hours",
        BOOST: "a que hora, what time",
    },
    # Problems and emergencies go to staff too: there is no complaint intent to send them to.
    "human_agent": {
        DECISIVE: (
            "hablar con alguien, hablar con una persona, hablar con un humano, "
            "persona real, talk to a human, speak to a human, real person, "
            "talk to someone, speak to someone, speak with someone, talk to a person, "
            "speak to a person, "
            # A broken facility is a job for staff, not a question about amenities.
            "no funciona, no anda, se rompio, se inundo, not working, doesn't work, "
            "is broken, no me abren, "
            # No modify intent exists: changing a booking is a job for staff.
            "cambiar la fecha, cambiar las fechas, cambiar mi reserva, cambiar la reserva, "
            "modificar la reserva, modificar mi reserva, change my booking, "
            "change my reservation, change the dates, modify my booking, "
            "modify my reservation"
        ),
        STRONG: (
            "humano, operador*, agente, recepcionista, con recepcion, asesor*, "
            "atencion al cliente, que me llamen, comunicarme con, human, agent, operator, "
            "representative, receptionist, customer service, call me, front desk, "
            "hay alguien, anyone there, anybody there"
        ),
        MEDIUM: (
            "encargado, gerente, hablar con, sos un bot, manager, talk to, speak to, "
            "are you a bot, problema, problem, queja, reclamo, complaint"
        ),
        WEAK: "urgent*, emergenc*, roto, broken, ayuda, help",
    },
    "confirm": {
        STRONG: "confirmo, confirmado, lo confirmo, acepto, i confirm, i accept",
        MEDIUM: "de acuerdo, go ahead, please proceed",
    },
}


def cue_table() -> tuple[tuple[str, str, float], ...]:
    """Every (intent, phrase, weight) of ``CUES``."""
    return tuple(
        (intent, phrase.strip(), weight)
        for intent, tiers in CUES.items()
        for weight, phrases in tiers.items()
        for phrase in phrases.split(",")
        if phrase.strip()
    )


# Phrases whose words must not count as cues ("no hay problema" is not a problem report).
NEUTRAL_PHRASES = (
    "no hay problema", "sin problema", "hay problema", "algun problema", "no problem",
    "no problems", "is it a problem", "any problem",
)  # fmt: skip

# Entities that make an intent more likely, added only when the intent already has a cue.
ENTITY_BOOSTS: dict[str, tuple[tuple[str, float], ...]] = {
    "availability": (("dates", 0.3), ("guests", 0.2), ("room_type", 0.1)),
    "reservation": (("dates", 0.3), ("guests", 0.2), ("room_type", 0.2), ("guest_name", 0.2)),
    "prices": (("room_type", 0.2), ("dates", 0.1)),
    "room_options": (("room_type", 0.2),),
    "late_checkout": (("booking_id", 0.3),),
    "cancellation_policy": (("booking_id", 0.2),),
}

# When no cue matched at all, entities alone still say something ("del 12 al 15 para 2").
ENTITY_ONLY: tuple[tuple[str, str, float], ...] = (
    ("dates", "availability", 0.5),
    ("guests", "availability", 0.3),
    ("room_type", "room_options", 0.4),
)

# --- bare yes/no answers -------------------------------------------------------------------

YES_PHRASES = (
    "si", "sip", "sii", "dale", "confirmo", "confirmado", "lo confirmo", "confirmar", "claro",
    "claro que si", "por supuesto", "perfecto", "de una", "obvio", "ok", "okay", "okey", "oka",
    "joya", "listo", "va", "bueno", "genial", "excelente", "correcto", "exacto", "acepto",
    "de acuerdo", "esta bien", "no hay problema", "yes", "yeah", "yep", "yup", "sure",
    "of course", "correct", "right", "sounds good", "go ahead", "please do", "i confirm",
    "absolutely", "definitely", "alright", "all right", "fine", "no problem",
)  # fmt: skip
NO_PHRASES = (
    "no", "nop", "nope", "nah", "cancelar", "cancela", "cancelalo", "cancel", "negativo",
    "para nada", "mejor no", "no gracias", "no quiero", "no me interesa", "dejalo",
    "olvidalo", "no hace falta", "no thanks", "no thank you", "never mind", "nevermind",
    "forget it", "not now", "ahora no", "todavia no", "not yet", "no way",
)  # fmt: skip
# Words that may accompany a bare answer without making it a request.
ANSWER_FILLERS = (
    "por favor", "porfa", "please", "gracias", "muchas gracias", "thanks", "thank you",
    "entonces", "then", "muy bien", "very well", "seguro", "che", "eh", "si si", "ya",
)  # fmt: skip
# Emoji answers, written as escapes so the source stays ASCII.
YES_SYMBOLS = ("\N{THUMBS UP SIGN}", "\N{OK HAND SIGN}", "\N{WHITE HEAVY CHECK MARK}")
NO_SYMBOLS = ("\N{THUMBS DOWN SIGN}", "\N{CROSS MARK}")

# urgente, urgentemente, urgent, urgently, urgencia, emergencia, emergency, ...
URGENT_CUES = ("urgent*", "urgenc*", "emergenc*", "asap")

ROOM_TYPES: tuple[tuple[str, str], ...] = (
    ("junior suite", "suite"), ("suite*", "suite"),
    ("deluxe", "deluxe"), ("de luxe", "deluxe"), ("de lujo", "deluxe"), ("lujo*", "deluxe"),
    ("luxury", "deluxe"),
    ("superior*", "superior"),
    ("estandar", "standard"), ("standard", "standard"), ("standar", "standard"),
    ("basica", "standard"), ("basic", "standard"), ("economica", "standard"),
    ("economy", "standard"), ("clasica", "standard"), ("classic", "standard"),
)  # fmt: skip
# What guests call a room, mapped to a wish the booking flow turns into the PMS room
# types that fit the party (agent/conversation/rooms.py).
ROOM_WISHES: tuple[tuple[str, str], ...] = (
    ("dos camas", "twin"), ("2 camas", "twin"), ("camas separadas", "twin"), ("twin*", "twin"),
    ("two beds", "twin"), ("2 beds", "twin"), ("separate beds", "twin"),
    ("matrimonial grande", "king"), ("cama grande", "king"), ("king*", "king"),
    ("doble", "double"), ("dobles", "double"), ("double", "double"), ("dbl", "double"),
    ("matrimonial", "double"), ("queen", "double"),
    ("individual", "single"), ("single", "single"), ("sencilla", "single"),
    ("triple", "triple"), ("cuadruple", "family"), ("familiar", "family"),
    ("family room", "family"), ("family", "family"),
    ("con vista", "view"), ("a view", "view"), ("with view", "view"), ("city view", "view"),
    ("balcon", "balcony"), ("balcony", "balcony"), ("jacuzzi", "suite"),
    ("mas barata", "cheapest"), ("mas economica", "cheapest"), ("lo mas barato", "cheapest"),
    ("cheapest", "cheapest"), ("cheaper one", "cheapest"),
)  # fmt: skip

# Phrases where a room-type word means something else ("piso superior" is the top floor).
ROOM_TYPE_EXCLUSIONS = ("piso superior", "planta superior", "parte superior", "nivel superior")
