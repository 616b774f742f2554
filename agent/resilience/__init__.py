"""Resilience as small composable pieces: breakers, retry policies and their listeners."""

from agent.resilience.breakers import BreakerOpen, guarded, make_breaker
from agent.resilience.retry import RetryPolicy

__all__ = ["BreakerOpen", "RetryPolicy", "guarded", "make_breaker"]
