"""The intent engine as a process of its own, with the Rasa NLU HTTP API's shape.

``POST /model/parse`` takes ``{"text", "message_id"?, "language"?, "reference_date"?}``
and answers ``{"text", "intent": {"name", "confidence"}, "entities", "intent_ranking",
"language"}`` (see ``agent.nlp.rasa``); ``GET /health`` answers when it is ready.
Bad input is a 422 naming the field. Run with ``python -m agent.nlp --port 5005``.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from agent import __version__
from agent.errors import install_error_handlers
from agent.nlp.engine import analyze
from agent.nlp.language import signalled_language
from agent.nlp.rasa import to_rasa


class ParseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4096)
    message_id: str | None = Field(None, max_length=256)
    language: Literal["es", "en"] | None = None
    reference_date: date | None = None


def create_nlu_app() -> FastAPI:
    """The NLU service's app."""
    app = FastAPI(title="hotel-chaos-lab NLU", version=__version__)
    install_error_handlers(app)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/version")
    async def version() -> dict[str, str]:
        return {"version": __version__, "engine": "hotel_rules"}

    @app.post("/model/parse")
    async def parse(request: ParseRequest) -> dict[str, Any]:
        """Intent, entities and ranking of one message."""
        language = request.language or signalled_language(request.text) or None
        today = request.reference_date or date.today()
        return to_rasa(analyze(request.text, today=today, language=language))

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m agent.nlp", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5005)
    args = parser.parse_args(argv)
    uvicorn.run(create_nlu_app(), host=args.host, port=args.port, log_level="warning")
