"""The hotel guest-messaging agent: a FastAPI service and its resilience layer."""

__version__ = "0.1.0"
