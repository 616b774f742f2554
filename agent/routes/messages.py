"""``POST /api/v1/messages``: the channel-neutral guest message API."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StringConstraints, ValidationError

from agent import codec
from agent.conversation import InboundMessage
from agent.errors import ClientError, validation_details
from agent.routes.common import read_json

router = APIRouter(prefix="/api/v1", tags=["messages"])

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@+\-]+$")
]


class MessageIn(BaseModel):
    model_config = {"extra": "forbid"}

    guest_id: Identifier
    channel: Literal["api", "whatsapp", "web", "sms", "email"] = "api"
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]
    language: Literal["es", "en"] | None = None
    message_id: Identifier | None = None
    guest_name: Annotated[str, StringConstraints(max_length=100)] | None = None


class MessageOut(BaseModel):
    reply: str
    intent: str
    confidence: float = Field(ge=0, le=1)
    language: str
    degraded: bool
    session_id: str
    escalated: bool
    booking_id: str | None
    duplicate: bool = False


@router.post(
    "/messages",
    response_model=MessageOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": MessageIn.model_json_schema()}},
        }
    },
    responses={
        400: {"description": "malformed JSON"},
        413: {"description": "body too large"},
        415: {"description": "not JSON"},
        422: {"description": "invalid fields"},
    },
)
async def post_message(request: Request) -> Response:
    """Answer one guest message."""
    _, payload = await read_json(request)
    try:
        body = MessageIn.model_validate(payload)
    except ValidationError as exc:
        raise ClientError(422, "invalid_request", validation_details(exc.errors())) from exc
    reply = await request.app.state.orchestrator.handle(
        InboundMessage(
            guest_id=body.guest_id,
            channel=body.channel,
            text=body.text,
            language=body.language,
            message_id=body.message_id,
            guest_name=body.guest_name,
        )
    )
    # The orchestrator checked and stored the message id in the session's round trips.
    # The body is built here from known fields, so it skips response_model validation.
    body_out = {**reply.as_dict(), "duplicate": reply.duplicate}
    return Response(codec.dumps(body_out), media_type="application/json")
