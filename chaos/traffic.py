"""Guest traffic for the agent: scripted conversations and a light background load.

The load records every request's status and latency, so an experiment can prove "zero
5xx to guests" and measure reply latency before, during and after a fault.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

SPANISH_BOOKING = (
    "Hola, buenas tardes",
    "¿Tienen disponibilidad del {d1} al {d2} de {month_es} para 2 personas?",
    "Quiero reservar una suite",
    "Sí, confirmo",
    "¿A qué hora es el check-in?",
    "Gracias, chau",
)
ENGLISH_QUESTIONS = (
    "Hi there!",
    "Do you have rooms from {month_en} {d1} to {d2} for two guests?",
    "What amenities do you have?",
    "Where are you located?",
)
MONTHS_ES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)
MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def stay_dates(days_ahead: int, nights: int, today: date | None = None) -> dict[str, Any]:
    """Template values for a stay starting ``days_ahead`` days from today (same month)."""
    start = (today or date.today()) + timedelta(days=days_ahead)
    if start.day + nights > 28:
        start = start.replace(day=1) + timedelta(days=32)
        start = start.replace(day=3)
    return {
        "d1": start.day,
        "d2": start.day + nights,
        "month_es": MONTHS_ES[start.month - 1],
        "month_en": MONTHS_EN[start.month - 1],
    }


def converse(
    client: httpx.Client,
    guest_id: str,
    script: tuple[str, ...],
    values: dict[str, Any],
    language: str | None = None,
) -> list[dict[str, Any]]:
    """Send each line of ``script`` as ``guest_id`` and return the agent's answers."""
    replies = []
    for line in script:
        body: dict[str, Any] = {
            "guest_id": guest_id,
            "text": line.format(**values),
            "message_id": uuid.uuid4().hex,
        }
        if language:
            body["language"] = language
        response = client.post("/api/v1/messages", json=body)
        response.raise_for_status()
        replies.append({"sent": body["text"], **response.json()})
    return replies


@dataclass
class Sample:
    at: float
    status: int
    latency_s: float
    degraded: bool
    intent: str


@dataclass
class BackgroundLoad:
    """A light, steady stream of guest messages from a pool of guests, in a thread."""

    agent_url: str
    rate_per_s: float = 5.0
    guests: int = 20
    timeout_s: float = 15.0
    seed: int = 7
    guest_prefix: str = "load-guest"
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _messages(self) -> itertools.cycle[str]:
        rng = random.Random(self.seed)
        lines = []
        for _ in range(50):
            v = stay_dates(rng.choice((7, 7, 7, 14, 14, 21, 30)), rng.choice((2, 3)))
            lines.append(
                rng.choice(
                    (
                        "¿Tienen disponibilidad del {d1} al {d2} de {month_es} para 2 personas?",
                        "Do you have rooms from {month_en} {d1} to {d2} for two guests?",
                        "¿Qué habitaciones tienen?",
                        "What time is check-out?",
                        "Hola",
                        "¿Dónde están ubicados?",
                    )
                ).format(**v)
            )
        return itertools.cycle(lines)

    def _run(self) -> None:
        interval = 1.0 / self.rate_per_s
        texts = self._messages()
        with httpx.Client(base_url=self.agent_url, timeout=self.timeout_s) as client:
            n = 0
            next_at = time.monotonic()
            while not self._stop.is_set():
                guest = f"{self.guest_prefix}-{n % self.guests}"
                body = {"guest_id": guest, "text": next(texts), "message_id": uuid.uuid4().hex}
                started = time.monotonic()
                try:
                    r = client.post("/api/v1/messages", json=body)
                    answer = (
                        r.json()
                        if r.headers.get("content-type", "").startswith("application/json")
                        else {}
                    )
                    sample = Sample(
                        time.time(),
                        r.status_code,
                        time.monotonic() - started,
                        bool(answer.get("degraded")),
                        str(answer.get("intent", "")),
                    )
                except httpx.HTTPError:
                    sample = Sample(time.time(), 0, time.monotonic() - started, True, "")
                self.samples.append(sample)
                n += 1
                next_at += interval
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> BackgroundLoad:
        self._thread = threading.Thread(target=self._run, name="guest-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        self._stop.set()
        if self._thread:
            self._thread.join(self.timeout_s + 5)
        return self.samples
