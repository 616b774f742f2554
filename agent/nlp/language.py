"""Spanish / English detection by marker words (no model; deterministic)."""

from __future__ import annotations

from agent.nlp.normalize import fold, token_text

SUPPORTED = ("es", "en")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words and frequent chat words. Words both languages share in hotel chat
# ("no", "hotel", "suite", "ok", "me", "a", "spa") are deliberately absent.
_MARKERS: dict[str, frozenset[str]] = {
    "es": _words(
        """
        hola buenas buen buenos dia dias tardes gracias quiero queria quisiera queres tenes
        podes sabes necesito necesitamos tienen tiene tengo tenemos hay habitacion habitaciones
        cuarto reserva reservar reservame para por con de del la el los las que una uno es
        esta estan son somos donde cuanto cuanta cuantos sale cuesta precio precios noche
        noches manana hoy semana fin personas puedo podria y o si como cuando salida entrada
        llegar llego llegamos chau dale lugar desde hasta al mi mis nos les su sus mas pero
        tambien hacer quedan queda diciembre enero febrero marzo abril mayo junio julio agosto
        septiembre octubre noviembre lunes martes miercoles jueves viernes sabado domingo
        adultos ninos huespedes ubicacion direccion desayuno pileta piscina cochera horario
        precisamos decime contame pasame mandame avisame che vos usted ustedes perfecto
        genial claro bueno listo todo hablar persona alguien cancelar cancelacion politica
        estoy estamos seria ahora tarde temprano salir quedarme
        """
    ),
    "en": _words(
        """
        hello hi hey thanks thank you i want would like need needs room rooms book booking
        reservation for the an is are do does have has any available availability how much
        what where when can could please night nights tomorrow today week weekend we us our
        people guests my to from of in on at with and or yes price prices cost costs check
        bye goodbye there this next it be will just get your which who
        december january february march april june july august september october november
        monday tuesday wednesday thursday friday saturday sunday adults children kids
        breakfast pool parking address located cancel cancellation policy speak talk someone
        person human great cool sure time early later stay staying arrive arriving leave
        good morning afternoon evening yeah yep nope thx much many lot about know tell
        """
    ),
}
# Characters only Spanish text has.
_SPANISH_CHARS = frozenset("ñÑ¿¡áéíóúÁÉÍÓÚ")


def detect_language(text: str, default: str = "es") -> str:
    """Return "es" or "en" from marker-word counts; ``default`` when there is no clear signal."""
    found = signalled_language(text)
    if found is None:
        return default if default in SUPPORTED else "es"
    return found


def signalled_language(text: str) -> str | None:
    """ "es" or "en" when the marker words say so clearly, else None."""
    words = token_text(fold(text)).split()
    scores = {lang: sum(1 for w in words if w in markers) for lang, markers in _MARKERS.items()}
    scores["es"] += 2 * sum(1 for ch in text[:4096] if ch in _SPANISH_CHARS)
    best = max(SUPPORTED, key=lambda lang: scores[lang])
    others = [scores[lang] for lang in SUPPORTED if lang != best]
    if scores[best] == 0 or scores[best] in others:
        return None
    return best
