"""Configuration by environment (prefix ``SMO_``); one object handed to ``create_app``."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def listen_url(host: str, port: int | str) -> str:
    """The URL of a server listening on host:port (all interfaces -> this machine)."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


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
    # The address people open (links in e-mails, the guest link). Unset: derived from the
    # HOST and PORT the server listens on (``make run PORT=8765`` -> http://127.0.0.1:8765).
    public_url: str = ""
    # Origins (besides public_url's) from which browsers may open the Socket.IO connection:
    # a comma-separated or JSON list ("https://a.example, https://b.example").
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    default_locale: Literal["ru", "en"] = "ru"
    log_level: str = "INFO"
    # Unset: plain text in development (a terminal), one JSON object per line otherwise.
    log_format: Literal["json", "text"] | None = None

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
    # Scales the per-message limits of the room (realtime/meeting/limits.py); benchmarks raise it.
    room_rate_factor: float = Field(default=1.0, gt=0)

    # WebRTC: comma-separated STUN/TURN URLs of the operator; empty = host candidates only.
    ice_servers: list[str] = Field(default_factory=list)
    # Media placement (with Redis): this node's id (default: host-pid-random) and the URL under
    # which it is reachable; a dead node's meetings move after media_placement_ttl seconds.
    media_node_id: str | None = None
    media_public_url: str | None = None
    media_placement_ttl: float = Field(default=15.0, ge=1.0, le=600.0)
    # Forwarded RTP sent by a thread of its own, off the event loop (docs/media.md); off = the
    # event loop sends every packet itself.
    media_send_thread: bool = True
    # After each full garbage collection, freeze what survived, so the next one does not stall
    # the event loop (server/gc_policy.py). Empty: on, except in the test environment (the
    # test process would keep its own cyclic garbage frozen).
    gc_freeze_survivors: bool | None = None

    upload_max_bytes: int = 20 * 1024 * 1024
    # Keys of open secret polls and anonymous questionnaires (server/db/sealing.py): never in
    # the database; shared by every process of the installation. Default: <var>/sealing-keys.
    sealing_key_dir: Path | None = None

    # Transcription (docs/transcript.md): the engine runs when enabled and its model checks out.
    # Empty model = Whisper base from the pinned PyPI packages (sha256 checked before loading).
    transcription_enabled: bool = True
    transcription_model: str | None = None  # any CTranslate2 Whisper directory
    transcription_model_sha256: str | None = None  # its model.bin's sha256 (checked when set)
    transcription_threads: int = Field(default=2, ge=1, le=32)
    transcription_beam_size: int = Field(default=5, ge=1, le=10)
    # How long the protocol job waits for queued audio to be transcribed before assembling.
    transcription_protocol_wait_seconds: float = Field(default=600.0, ge=0.0, le=86400.0)
    # Days a meeting's recording is kept after it was made (then a durable job deletes it).
    recording_retention_days: int = Field(default=365, ge=1, le=3650)
    # Minutes before a meeting's start at which its registrants get the reminder e-mail.
    reminder_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origin_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in (p.strip() for p in text.split(",")) if part]
        return value

    def socket_origins(self) -> list[str]:
        """The origins a browser may connect to Socket.IO from: public_url's, then the others."""
        origins: list[str] = []
        for url in (self.public_url, *self.allowed_origins):
            parts = urlsplit(url.strip())
            if parts.scheme and parts.netloc:
                origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
                if origin not in origins:
                    origins.append(origin)
        return origins

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.var_dir / 'smo.db'}"
        if not self.public_url:
            self.public_url = listen_url(os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000"))
        if self.log_format is None:
            self.log_format = "text" if self.env == "development" else "json"
        if self.env == "production" and not self.secret_key:
            raise ValueError("SMO_SECRET_KEY is required when SMO_ENV=production")
        return self

    @property
    def resolved_sealing_key_dir(self) -> Path:
        return self.sealing_key_dir or self.var_dir / "sealing-keys"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def gc_freezes_survivors(self) -> bool:
        if self.gc_freeze_survivors is None:
            return self.env != "test"
        return self.gc_freeze_survivors

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
