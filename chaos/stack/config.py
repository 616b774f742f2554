"""Settings for the native stack (env prefix ``CHAOSLAB_``): ports, folders, agent profile."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chaos.paths import state_root

# Agent settings for lab runs: the production defaults (agent/settings.py), with times
# shortened so a whole experiment catalogue runs in minutes. Only settings change.
LAB_AGENT_ENV = {
    "AGENT_PMS__BREAKER__RESET_TIMEOUT_S": "5",
    "AGENT_PMS__RETRY__BACKOFF_BASE_S": "0.1",
    "AGENT_PMS__TIMEOUT_S": "1.0",
    "AGENT_PMS__CONNECT_TIMEOUT_S": "0.5",
    "AGENT_PMS__CACHE_AVAILABILITY_TTL_S": "15",
    # Refresh-ahead every 2 s keeps the 15 s entries fresh (agent/pms/warmer.py).
    "AGENT_PMS__CACHE_REFRESH_INTERVAL_S": "2",
    "AGENT_SESSIONS__RETRY__BACKOFF_BASE_S": "0.1",
    "AGENT_REDIS__SOCKET_TIMEOUT_S": "0.5",
    "AGENT_REDIS__CONNECT_TIMEOUT_S": "0.5",
    "AGENT_AUDIT__BREAKER__RESET_TIMEOUT_S": "5",
    "AGENT_AUDIT__RETRY__BACKOFF_BASE_S": "0.1",
    "AGENT_AUDIT__REPLAY_INTERVAL_S": "1",
    "AGENT_AUDIT__WRITE_BUDGET_S": "0.3",
    "AGENT_DATABASE__CONNECT_TIMEOUT_S": "1",
    "AGENT_ALERTS__RETRY__BACKOFF_BASE_S": "0.1",
    "AGENT_ALERTS__TIMEOUT_S": "2",
    "AGENT_DEPENDENCY_CHECK_INTERVAL_S": "1",
    "AGENT_WHATSAPP__OUTBOX_INTERVAL_S": "0.5",
    "AGENT_NLP__BREAKER__RESET_TIMEOUT_S": "5",
    "AGENT_STT__TIMEOUT_S": "3",
    "AGENT_STT__RETRY__BACKOFF_BASE_S": "0.1",
    "AGENT_STT__BREAKER__RESET_TIMEOUT_S": "5",
    "AGENT_WHATSAPP__OUTBOX_RETRY__BACKOFF_BASE_S": "0.5",
    "AGENT_WHATSAPP__OUTBOX_RETRY__BACKOFF_MAX_S": "4",
}


class Ports(BaseModel):
    agent: int = 8080
    pms: int = 8081
    proxy_api: int = 8474
    redis: int = 16379
    postgres: int = 15432
    proxy_redis: int = 26379
    proxy_postgres: int = 25432
    proxy_pms: int = 28081
    proxy_graph: int = 28083
    nlu: int = 5005
    proxy_nlu: int = 25005
    stt: int = 8090
    proxy_stt: int = 28090
    prometheus: int = 9090
    alertmanager: int = 9093
    redis_exporter: int = 9121
    postgres_exporter: int = 9187
    alert_sink: int = 5001


class StackSettings(BaseSettings):
    """Where the native stack lives and listens."""

    model_config = SettingsConfigDict(
        env_prefix="CHAOSLAB_", env_nested_delimiter="__", extra="ignore"
    )

    host: str = "127.0.0.1"
    state_dir: Path = Field(default_factory=lambda: state_root() / ".state")
    ports: Ports = Ports()
    profile: str = Field("lab", pattern="^(lab|default)$")
    admin_token: str = "lab-admin-token"
    whatsapp_secret: str = "lab-whatsapp-secret"
    pms_api_key: str = "pms-dev-key"
    agent_env: dict[str, str] = Field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.state_dir / "stack.json"
