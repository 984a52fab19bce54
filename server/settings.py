"""Configuration by environment (prefix ``SMO_``); one object handed to ``create_app``."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMO_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    # Namespaces every Redis key and pub/sub channel: installations (or test runs) sharing
    # one Redis never see each other's traffic.
    redis_prefix: str = "smo"
    secret_key: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    default_locale: Literal["ru", "en"] = "ru"
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    mail_from: str = "SMO Live <noreply@smo.local>"

    # Seconds between outbox polls of the background mail worker.
    outbox_poll_seconds: float = 1.0
    # Rate limits: attempts per window.
    login_attempts: int = 10
    login_window_seconds: int = 300
    chat_messages_per_10s: int = 10

    # WebRTC: comma-separated STUN/TURN URLs of the operator; empty = host candidates only.
    ice_servers: list[str] = Field(default_factory=list)
    # Media placement (with Redis): this node's id (default: host-pid-random) and the URL under
    # which it is reachable; a dead node's meetings move after media_placement_ttl seconds.
    media_node_id: str | None = None
    media_public_url: str | None = None
    media_placement_ttl: float = Field(default=15.0, ge=1.0, le=600.0)

    upload_max_bytes: int = 20 * 1024 * 1024
    # Days a meeting's recording is kept after it was made (then a durable job deletes it).
    recording_retention_days: int = Field(default=365, ge=1, le=3650)
    # Minutes before a meeting's start at which its registrants get the reminder e-mail.
    reminder_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.var_dir / 'smo.db'}"
        if self.env == "production" and not self.secret_key:
            raise ValueError("SMO_SECRET_KEY is required when SMO_ENV=production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """The signing key: configured, or generated once and kept under var/ in development."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key
