"""Settings for the agent, one pydantic-settings class (env prefix ``AGENT_``).

Nested groups are set from the environment with a double underscore, for example
``AGENT_PMS__BREAKER_RESET_S=2``. Tests and notebooks shorten times through these
settings, never by editing code.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RetrySettings(BaseModel):
    """Retry policy: attempts after the first call, and the exponential back-off."""

    retries: int = Field(3, ge=0, le=10)
    backoff_base_s: float = Field(1.0, ge=0)
    backoff_factor: float = Field(2.0, ge=1)
    backoff_max_s: float = Field(30.0, ge=0)


class BreakerSettings(BaseModel):
    fail_max: int = Field(5, ge=1)
    reset_timeout_s: float = Field(30.0, gt=0)


class PMSSettings(BaseModel):
    base_url: str = "http://127.0.0.1:8081"
    api_key: SecretStr = SecretStr("pms-dev-key")
    timeout_s: float = Field(5.0, gt=0)
    connect_timeout_s: float = Field(2.0, gt=0)
    breaker: BreakerSettings = BreakerSettings()
    retry: RetrySettings = RetrySettings()
    cache_availability_ttl_s: int = Field(300, ge=1)
    cache_stale_ttl_s: int = Field(86_400, ge=1)
    cache_room_types_ttl_s: int = Field(3600, ge=1)
    # The warmer keeps per-night availability fresh for this many nights from today
    # (0 turns it off), checking every interval and refreshing entries older than
    # ``cache_refresh_ahead`` of their TTL, so guests' lookups find them fresh.
    cache_warm_days: int = Field(90, ge=0, le=365)
    cache_refresh_interval_s: float = Field(10.0, gt=0)
    cache_refresh_ahead: float = Field(0.5, gt=0, le=1)
    cache_compose_max_nights: int = Field(14, ge=1, le=30)


class RedisSettings(BaseModel):
    url: str = "redis://127.0.0.1:6379/0"
    socket_timeout_s: float = Field(1.0, gt=0)
    connect_timeout_s: float = Field(1.0, gt=0)
    max_connections: int = Field(50, ge=1)


class SessionSettings(BaseModel):
    ttl_s: int = Field(1800, ge=1)
    cleanup_interval_s: float = Field(600.0, gt=0)
    history_max: int = Field(20, ge=1)
    retry: RetrySettings = RetrySettings()


class DatabaseSettings(BaseModel):
    dsn: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/hotel")
    pool_min: int = Field(1, ge=0)
    pool_max: int = Field(10, ge=1)
    connect_timeout_s: float = Field(2.0, gt=0)
    statement_timeout_ms: int = Field(2000, ge=1)


class AuditSettings(BaseModel):
    breaker: BreakerSettings = BreakerSettings()
    retry: RetrySettings = RetrySettings()
    fallback_path: Path = Path("logs/audit_fallback.jsonl")
    # How long the reply path may wait for PostgreSQL before the event goes to the file.
    write_budget_s: float = Field(0.5, gt=0)
    replay_interval_s: float = Field(5.0, gt=0)
    replay_batch: int = Field(500, ge=1)


class AlertSettings(BaseModel):
    alertmanager_url: str = ""
    timeout_s: float = Field(30.0, gt=0)
    retry: RetrySettings = RetrySettings()
    cooldown_s: float = Field(1800.0, ge=0)


class WhatsAppSettings(BaseModel):
    app_secret: SecretStr = SecretStr("")
    verify_token: SecretStr = SecretStr("")
    access_token: SecretStr = SecretStr("")
    graph_base_url: str = "http://127.0.0.1:8081/graph"
    phone_number_id: str = "000000000000000"
    timeout_s: float = Field(5.0, gt=0)
    max_body_bytes: int = Field(256 * 1024, ge=1)
    # A copy of a message that arrives while another is answered waits this long for it.
    duplicate_wait_s: float = Field(10.0, gt=0)
    # A claim left by a process that died mid-answer expires after this (Meta retries).
    claim_ttl_s: int = Field(120, ge=1)
    # Replies Graph did not take: retried with back-off (retries = attempts after the
    # first retry), the outbox checked every interval.
    outbox_retry: RetrySettings = RetrySettings(retries=10, backoff_base_s=2.0, backoff_max_s=300.0)
    outbox_interval_s: float = Field(1.0, gt=0)


class STTSettings(BaseModel):
    """Speech to text through an OpenAI-compatible ``/v1/audio/transcriptions``."""

    url: str = ""  # empty: voice notes get a "please type" reply
    api_key: SecretStr = SecretStr("")
    model: str = "whisper-1"
    language: str = ""  # empty: the server detects it
    timeout_s: float = Field(10.0, gt=0)
    # Connection errors, 429 and 5xx are retried; a timeout is not (a slow server stays slow).
    retry: RetrySettings = RetrySettings(retries=2, backoff_base_s=0.2)
    breaker: BreakerSettings = BreakerSettings()
    max_audio_bytes: int = Field(16 * 1024 * 1024, ge=1)


class HotelSettings(BaseModel):
    name: str = "Hotel Mirador"
    timezone: str = "America/Argentina/Buenos_Aires"
    business_open_hour: int = Field(9, ge=0, le=23)
    business_close_hour: int = Field(21, ge=1, le=24)
    checkin_time: str = "15:00"
    checkout_time: str = "12:00"
    late_checkout_time: str = "14:00"
    late_checkout_fee_ratio: float = Field(0.5, ge=0)
    address: str = "Av. del Libertador 1200, Buenos Aires"
    latitude: float = -34.5875
    longitude: float = -58.3972
    phone: str = "+54 11 5555-0100"


class NLPSettings(BaseModel):
    high_confidence: float = Field(0.75, ge=0, le=1)
    low_confidence: float = Field(0.45, ge=0, le=1)
    max_clarifications: int = Field(2, ge=1)
    # The NLU service (Rasa's /model/parse shape); empty: the rules run in-process only.
    url: str = ""
    timeout_s: float = Field(0.5, gt=0)
    breaker: BreakerSettings = BreakerSettings()


class AgentSettings(BaseSettings):
    """Everything the agent reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="AGENT_", env_nested_delimiter="__", extra="ignore"
    )

    environment: str = "development"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    log_level: str = "INFO"
    admin_token: SecretStr = SecretStr("")
    request_max_bytes: int = Field(64 * 1024, ge=1)
    dependency_check_interval_s: float = Field(5.0, gt=0)
    # uvicorn worker processes on the one port (production); each owns an audit fallback
    # slot and metrics merge across them (agent/main.py). The lab stack runs one.
    workers: int = Field(1, ge=1, le=32)

    redis: RedisSettings = RedisSettings()
    sessions: SessionSettings = SessionSettings()
    pms: PMSSettings = PMSSettings()
    database: DatabaseSettings = DatabaseSettings()
    audit: AuditSettings = AuditSettings()
    alerts: AlertSettings = AlertSettings()
    whatsapp: WhatsAppSettings = WhatsAppSettings()
    stt: STTSettings = STTSettings()
    hotel: HotelSettings = HotelSettings()
    nlp: NLPSettings = NLPSettings()
