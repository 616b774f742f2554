"""WhatsApp delivery: at-most-once answering of at-least-once webhooks, an outbox for
replies Graph did not take, and the delivery statuses Meta reports back."""

from agent.delivery.claims import Claim, Claims
from agent.delivery.outbox import Outbox, OutboxItem
from agent.delivery.statuses import StatusStore

__all__ = ["Claim", "Claims", "Outbox", "OutboxItem", "StatusStore"]
