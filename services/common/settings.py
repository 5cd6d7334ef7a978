"""Process settings: one pydantic-settings class, env prefix PLANTRACK_."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.contracts.calendar import DEFAULT_TIMEZONE

SERVICES = ("projects", "enterprises", "events")
SECRET_FILE = "secret.key"
EMBEDDED_NATS_PORT = 4322
DEFAULT_PORTS = {"gateway": 8000, "projects": 8001, "enterprises": 8002, "events": 8003}
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PRIVATE_UMASK = 0o077
"""What every process of a deployment creates files with: readable by its user alone."""


class NoDeployment(RuntimeError):
    """A data dir with no secret in it, where one was expected to run."""


def private_dir(path: Path) -> Path:
    """`path` (and its parents) made if missing; itself readable by this user only."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if path.stat().st_mode & 0o077:
        path.chmod(PRIVATE_DIR_MODE)
    return path


class Settings(BaseSettings):
    """Everything a plantrack process can be told; each service reads what it needs."""

    model_config = SettingsConfigDict(env_prefix="PLANTRACK_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path(".plantrack")
    nats_url: str = f"nats://127.0.0.1:{EMBEDDED_NATS_PORT}"
    secret: str | None = Field(default=None, repr=False)
    token_ttl_hours: float = 8.0

    projects_database_url: str | None = None
    enterprises_database_url: str | None = None
    events_database_url: str | None = None
    gateway_database_url: str | None = None  # the accounts: users, sessions, API keys
    db_pool_size: int = 10

    # Sign-in (the gateway): sessions, passwords, lockout, single sign-on.
    session_idle_minutes: float = 30.0
    session_absolute_hours: float = 12.0
    cookie_secure: bool | None = None  # None: Secure when the request came over TLS
    password_min_length: int = 10
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456  # 19 MiB, t=2, p=1: OWASP's first Argon2id configuration
    argon2_parallelism: int = 1
    login_max_failures: int = 5  # per account, within the window, before it locks
    login_address_max_failures: int = 20  # per client address, within the window
    login_window_minutes: float = 15.0
    login_lock_minutes: float = 15.0  # doubles with each further lock, up to a day
    oidc_issuer: str | None = None  # e.g. https://sso.example.gov.cn/realms/district
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, repr=False)
    oidc_redirect_url: str | None = None  # default: this gateway's /auth/oidc/callback
    oidc_scopes: str = "openid profile email"
    oidc_roles_claim: str = "roles"  # a dotted path into the ID token / userinfo claims
    oidc_role_map: dict[str, str] = Field(default_factory=dict)  # claim value → role
    oidc_sub_district_claim: str | None = None
    oidc_username_claim: str = "preferred_username"

    subject_prefix: str = "plantrack"
    stream: str = "PLANTRACK"
    live_stream: str = "PLANTRACK_LIVE"
    stream_replicas: int = 1
    duplicate_window_seconds: float = 120.0
    consumer_batch: int = 256
    consumer_ack_wait_seconds: float = 30.0  # how long a crashed consumer's batch waits to return
    relay_batch: int = 500
    relay_interval_seconds: float = 0.05

    projects_url: str = f"http://127.0.0.1:{DEFAULT_PORTS['projects']}"
    enterprises_url: str = f"http://127.0.0.1:{DEFAULT_PORTS['enterprises']}"
    events_url: str = f"http://127.0.0.1:{DEFAULT_PORTS['events']}"
    upstream_timeout_seconds: float = 5.0
    rate_limit_per_minute: int = 6000

    # Uploaded spreadsheets: refused (413) over these before reading; read in a worker process
    sheet_max_rows: int = Field(default=200_000, ge=1)
    sheet_max_columns: int = Field(default=60, ge=1)
    sheet_max_cells: int = Field(default=4_000_000, ge=1)
    sheet_max_uncompressed_mb: int = Field(default=200, ge=1)
    sheet_max_compression_ratio: float = Field(default=100.0, ge=1)
    sheet_worker_memory_mb: int = Field(default=1536, ge=64)
    sheet_read_timeout_seconds: float = Field(default=120.0, gt=0)

    industry_chains: list[str] | None = None  # the plan's key chains unless configured
    validity_years_override: dict[str, int | None] = Field(default_factory=dict)
    expiry_check_seconds: float = 3600.0
    timezone: str = DEFAULT_TIMEZONE  # the district's: the business date is the day there
    today: str | None = None  # a fixed business date, for drills and demos ("YYYY-MM-DD")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            message = f"unknown timezone {value!r} (an IANA name, e.g. Asia/Shanghai)"
            raise ValueError(message) from exc
        return value

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.env == "production" and (not self.secret or len(self.secret) < 32):
            raise ValueError("PLANTRACK_SECRET of at least 32 characters is required in production")
        return self

    def database_url(self, service: str) -> str:
        """The service's own database: the configured URL, else a SQLite file in the data dir."""
        url = getattr(self, f"{service}_database_url")
        if self.env == "production" and (not url or url.startswith("sqlite")):
            # Checked here, not at start-up: each process needs only its own database.
            name = f"PLANTRACK_{service.upper()}_DATABASE_URL"
            raise ValueError(f"{name} must be PostgreSQL in production")
        if url:
            return url
        private_dir(self.data_dir)
        return f"sqlite:///{(self.data_dir / f'{service}.db').resolve()}"

    def signing_secret(self, *, create: bool = True) -> str:
        """The JWT secret: given, or generated once into the data dir (mode 0600). With
        `create=False` a data dir without one is refused (NoDeployment), not given a new one."""
        if self.secret:
            return self.secret
        path = self.data_dir / SECRET_FILE
        if not path.exists():
            if not create:
                raise NoDeployment(f"no plantrack deployment in {self.data_dir.resolve()}")
            private_dir(self.data_dir)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    @property
    def domain_subjects(self) -> str:
        return f"{self.subject_prefix}.domain"

    @property
    def live_subjects(self) -> str:
        return f"{self.subject_prefix}.live"

    @property
    def nats_servers(self) -> list[str]:
        return [u.strip() for u in self.nats_url.split(",") if u.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
