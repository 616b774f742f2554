"""Reply texts in Spanish and English, keyed by template name.

Texts are ``str.format`` templates; every key exists in both languages (a unit test
checks that), so a reply never falls back to the wrong language.
"""

from __future__ import annotations

TEMPLATES: dict[str, dict[str, str]] = {
    "greeting": {
        "es": "¡Hola! Soy el asistente de {hotel}. Puedo consultar disponibilidad, reservar, "
        "gestionar un late checkout o responder dudas. ¿En qué te ayudo?",
        "en": "Hello! I'm the {hotel} assistant. I can check availability, book a room, "
        "arrange a late checkout or answer questions. How can I help?",
    },
    "goodbye": {
        "es": "¡Gracias por escribirnos! Que tengas un excelente día.",
        "en": "Thanks for writing to us! Have a great day.",
    },
    "thanks": {
        "es": "¡De nada! ¿Hay algo más en lo que te pueda ayudar?",
        "en": "You're welcome! Is there anything else I can help with?",
    },
    "ask_dates": {
        "es": "¿Para qué fechas querés consultar? Por ejemplo: del 12 al 15 de diciembre.",
        "en": "Which dates would you like? For example: from December 12 to 15.",
    },
    "availability_header": {
        "es": "Disponibilidad del {check_in} al {check_out} ({nights} noches, {guests} huéspedes):",
        "en": "Availability from {check_in} to {check_out} ({nights} nights, {guests} guests):",
    },
    "availability_line": {
        "es": "- {name}: {available} disponibles, {nightly} {currency} por noche, total {total} {currency}",
        "en": "- {name}: {available} available, {nightly} {currency} per night, total {total} {currency}",
    },
    "availability_none": {
        "es": "No hay habitaciones disponibles del {check_in} al {check_out} para {guests} huéspedes. "
        "¿Querés probar otras fechas?",
        "en": "There are no rooms available from {check_in} to {check_out} for {guests} guests. "
        "Would you like to try other dates?",
    },
    "availability_offer_booking": {
        "es": "Si querés reservar, decime qué tipo de habitación preferís.",
        "en": "If you'd like to book, tell me which room type you prefer.",
    },
    "stale_note": {
        "es": "(Precios de nuestra última consulta: pueden haber cambiado, los confirmamos al reservar.)",
        "en": "(Prices from our last check: they may have changed, we confirm them when booking.)",
    },
    "dates_rejected": {
        "es": "No puedo ofrecer esas fechas: tomamos reservas de hasta 30 noches dentro del "
        "próximo año. ¿Probamos con otras?",
        "en": "I can't offer those dates: we take bookings of up to 30 nights within the next "
        "year. Shall we try others?",
    },
    "room_options_header": {
        "es": "Nuestras habitaciones:",
        "en": "Our rooms:",
    },
    "room_option_line": {
        "es": "- {name}: hasta {capacity} personas, desde {rate} {currency} por noche",
        "en": "- {name}: up to {capacity} guests, from {rate} {currency} per night",
    },
    "booking_confirm": {
        "es": "Te reservo una {name} del {check_in} al {check_out} para {guests} huéspedes, "
        "total {total} {currency}. ¿Confirmás? (sí/no)",
        "en": "I'll book a {name} from {check_in} to {check_out} for {guests} guests, "
        "total {total} {currency}. Shall I confirm? (yes/no)",
    },
    "booking_done": {
        "es": "¡Listo! Tu reserva {booking_id} está confirmada: {name} del {check_in} al {check_out}. "
        "Para garantizarla, enviá por acá una foto del comprobante de la seña.",
        "en": "Done! Your booking {booking_id} is confirmed: {name} from {check_in} to {check_out}. "
        "To guarantee it, send a photo of your deposit receipt here.",
    },
    "payment_proof_received": {
        "es": "¡Gracias! Recibimos el comprobante de pago de la reserva {booking_id}. "
        "Nuestro equipo lo revisa y te confirma en breve.",
        "en": "Thank you! We received the payment receipt for booking {booking_id}. "
        "Our team will check it and confirm shortly.",
    },
    "image_received": {
        "es": "¡Gracias por la imagen! No puedo ver fotos, así que contame en un mensaje qué necesitás.",
        "en": "Thanks for the picture! I can't look at photos, so please tell me in a message what you need.",
    },
    "location_received": {
        "es": "¡Gracias por tu ubicación! Estás a unos {km} km del hotel, en {address}. "
        "Mapa: https://maps.google.com/?q={lat},{lon}",
        "en": "Thanks for sharing your location! You're about {km} km from the hotel, at {address}. "
        "Map: https://maps.google.com/?q={lat},{lon}",
    },
    "reaction_received": {
        "es": "¡Gracias! Si necesitás algo más, escribime.",
        "en": "Thank you! If you need anything else, just write.",
    },
    "voice_please_type": {
        "es": "No pude escuchar tu mensaje de voz. ¿Me lo podés escribir, por favor?",
        "en": "I couldn't listen to your voice message. Could you please type it?",
    },
    "unsupported_type": {
        "es": "Por ahora solo puedo leer mensajes de texto, imágenes de comprobantes y ubicaciones. "
        "¿Me lo escribís?",
        "en": "For now I can only read text messages, payment receipts and locations. "
        "Could you type it?",
    },
    "booking_cancelled": {
        "es": "Perfecto, no hice la reserva. ¿Te ayudo con otra cosa?",
        "en": "All right, I didn't make the booking. Can I help with anything else?",
    },
    "booking_unavailable": {
        "es": "Esa habitación ya no está disponible para esas fechas. ¿Probamos otra?",
        "en": "That room is no longer available for those dates. Shall we try another?",
    },
    "ask_room_type": {
        "es": "¿Qué tipo de habitación querés? Tenemos standard, superior, deluxe y suite.",
        "en": "Which room type would you like? We have standard, superior, deluxe and suite.",
    },
    "reask_room_type": {
        "es": "¿Qué habitación preferís para {guests} huéspedes? Tenemos {options}; "
        "te recomiendo la {cheapest}, la más económica.",
        "en": "Which room would you like for {guests} guests? We have {options}; "
        "I'd suggest the {cheapest}, the best value.",
    },
    "reask_booking_confirm": {
        "es": "¿Confirmo la reserva de la {name} del {check_in} al {check_out}, total {total} "
        "{currency}? Respondé sí o no.",
        "en": "Shall I confirm the {name} from {check_in} to {check_out}, total {total} "
        "{currency}? Please answer yes or no.",
    },
    "reask_late_checkout_confirm": {
        "es": "¿Confirmo el late checkout hasta las {late_time} por {fee} {currency}? Respondé sí o no.",
        "en": "Shall I confirm the late checkout until {late_time} for {fee} {currency}? "
        "Please answer yes or no.",
    },
    "still_pending": {
        "es": "Sigo con tu reserva: {question}",
        "en": "Back to your booking: {question}",
    },
    "cancellation_requested": {
        "es": "Le pasé al equipo tu pedido de cancelar la reserva {booking_id}; te confirman en "
        "breve. Recordá: sin cargo hasta 48 horas antes de la llegada.",
        "en": "I've passed your request to cancel booking {booking_id} to our team; they'll "
        "confirm shortly. Remember: free of charge up to 48 hours before arrival.",
    },
    "ask_booking_id": {
        "es": "Para el late checkout necesito tu número de reserva (por ejemplo BK-000123).",
        "en": "For a late checkout I need your booking number (for example BK-000123).",
    },
    "late_checkout_offer": {
        "es": "Podés dejar la habitación a las {late_time} en lugar de las {checkout_time} "
        "el día de tu salida. El cargo es {fee} {currency} (50 % de la tarifa por noche). "
        "¿Confirmás? (sí/no)",
        "en": "You can check out at {late_time} instead of {checkout_time} on your departure day. "
        "The fee is {fee} {currency} (50 % of the nightly rate). Shall I confirm? (yes/no)",
    },
    "late_checkout_done": {
        "es": "¡Confirmado! Tu salida es a las {late_time}. El cargo de {fee} {currency} "
        "se suma a tu cuenta.",
        "en": "Confirmed! Your check-out is at {late_time}. The {fee} {currency} fee "
        "is added to your bill.",
    },
    "late_checkout_unavailable": {
        "es": "Lo siento, ese día no podemos ofrecer late checkout para tu reserva {booking_id}.",
        "en": "Sorry, we can't offer a late checkout on that day for booking {booking_id}.",
    },
    "late_checkout_declined": {
        "es": "Entendido, mantenemos la salida a las {checkout_time}.",
        "en": "Understood, your check-out stays at {checkout_time}.",
    },
    "booking_not_found": {
        "es": "No encuentro la reserva {booking_id}. ¿Podés revisar el número?",
        "en": "I can't find booking {booking_id}. Could you check the number?",
    },
    "location": {
        "es": "Estamos en {address}. Mapa: https://maps.google.com/?q={lat},{lon}",
        "en": "We're at {address}. Map: https://maps.google.com/?q={lat},{lon}",
    },
    "checkin_info": {
        "es": "El check-in es desde las {checkin_time}. Si llegás antes, guardamos tu equipaje.",
        "en": "Check-in is from {checkin_time}. If you arrive earlier, we'll keep your luggage.",
    },
    "checkout_info": {
        "es": "El check-out es hasta las {checkout_time}. Podés pedir late checkout hasta las "
        "{late_time}.",
        "en": "Check-out is until {checkout_time}. You can ask for a late checkout until {late_time}.",
    },
    "cancellation_policy": {
        "es": "Podés cancelar sin cargo hasta 48 horas antes de la llegada; después se cobra la "
        "primera noche.",
        "en": "You can cancel free of charge up to 48 hours before arrival; after that the first "
        "night is charged.",
    },
    "amenities": {
        "es": "Tenemos wifi gratis, piscina climatizada, gimnasio, spa y desayuno buffet.",
        "en": "We have free wifi, a heated pool, a gym, a spa and a buffet breakfast.",
    },
    "services": {
        "es": "Ofrecemos room service 24 h, lavandería, traslado al aeropuerto y estacionamiento.",
        "en": "We offer 24 h room service, laundry, airport transfer and parking.",
    },
    "prices": {
        "es": "Las tarifas dependen de las fechas. Decime cuándo venís y te paso los precios exactos.",
        "en": "Rates depend on the dates. Tell me when you're coming and I'll give you exact prices.",
    },
    "business_hours": {
        "es": "La recepción atiende por este canal de {open}:00 a {close}:00. Fuera de ese horario "
        "respondemos lo antes posible; si es urgente, escribí 'urgente'.",
        "en": "Reception answers on this channel from {open}:00 to {close}:00. Outside those hours "
        "we reply as soon as we can; if it's urgent, write 'urgent'.",
    },
    "after_hours": {
        "es": "Nuestro equipo atiende de {open}:00 a {close}:00. Te respondemos apenas abramos; "
        "si es urgente, escribí 'urgente'.",
        "en": "Our team is available from {open}:00 to {close}:00. We'll reply as soon as we open; "
        "if it's urgent, write 'urgent'.",
    },
    "escalated_urgent": {
        "es": "Avisé al personal de guardia: te contactan en unos minutos.",
        "en": "I've alerted the staff on duty: they'll contact you in a few minutes.",
    },
    "human_agent": {
        "es": "Te paso con una persona del equipo; te escriben en breve.",
        "en": "I'm handing you over to a member of our team; they'll write shortly.",
    },
    "clarify": {
        "es": "No estoy seguro de haber entendido. ¿Querés consultar disponibilidad, reservar, "
        "pedir late checkout o saber algo del hotel?",
        "en": "I'm not sure I understood. Would you like to check availability, book, ask for a "
        "late checkout or know something about the hotel?",
    },
    "escalated_confused": {
        "es": "Disculpá que no logre entenderte. Le pedí a una persona del equipo que te escriba.",
        "en": "Sorry I can't understand you. I've asked a member of our team to write to you.",
    },
    "fallback": {
        "es": "Puedo ayudarte con disponibilidad, reservas, late checkout, ubicación, horarios y "
        "servicios del hotel. ¿Qué necesitás?",
        "en": "I can help with availability, bookings, late checkout, location, times and hotel "
        "services. What do you need?",
    },
    "pms_unavailable": {
        "es": "Ahora no puedo consultar el sistema de reservas. Probá de nuevo en unos minutos o "
        "escribí 'humano' para hablar con una persona.",
        "en": "I can't reach the booking system right now. Please try again in a few minutes or "
        "write 'human' to talk to a person.",
    },
    "confirm_nothing_pending": {
        "es": "Perfecto. ¿En qué más te ayudo?",
        "en": "Great. What else can I help with?",
    },
}


def render(key: str, language: str, **values: object) -> str:
    """The template ``key`` in ``language`` (Spanish when unknown), filled with ``values``."""
    texts = TEMPLATES[key]
    return texts.get(language, texts["es"]).format(**values)
