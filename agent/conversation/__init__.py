"""The conversation engine: intent handlers, multi-turn state and reply templates."""

from agent.conversation.orchestrator import InboundMessage, Orchestrator, Reply

__all__ = ["InboundMessage", "Orchestrator", "Reply"]
