"""Settings for the PostHog source and the warehouse, read from environment variables.

Every setting has a default so the project runs with nothing configured (demo API + DuckDB file).
Validation errors name the environment variable that holds the bad value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_PAGE_SIZE = 50_000
LEGACY_PAGE_CAP = 1_000


class SettingsError(ValueError):
    """A setting from the environment is missing or malformed; the message names the variable."""


def _env(env: Mapping[str, str], name: str) -> str | None:
    """Return a trimmed value, treating empty strings as unset."""
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _env(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be >= {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = _env(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be >= {minimum}")
    return value


def parse_utc(value: str, name: str = "value") -> datetime:
    """Parse an ISO date or date-time; naive values are taken as UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not an ISO date or date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_project_ids(raw: str | None, name: str = "POSTHOG_PROJECT_ID") -> list[int]:
    """Parse "1" or "1, 2,3" into a list of distinct positive ids, keeping order."""
    if raw is None:
        return [1]
    ids: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) <= 0:
            raise SettingsError(f"{name}={raw!r}: {part!r} is not a positive integer project id")
        if int(part) not in ids:
            ids.append(int(part))
    if not ids:
        raise SettingsError(f"{name}={raw!r} holds no project id")
    return ids


class PostHogSettings(BaseModel):
    """Where and how to read PostHog. No API key means: use the bundled demo API."""

    model_config = ConfigDict(frozen=True)

    project_ids: list[int] = Field(default_factory=lambda: [1])
    host: str | None = None
    api_key: SecretStr | None = None
    events_api: Literal["query", "legacy"] = "query"
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=DEFAULT_PAGE_SIZE)
    lookback_hours: float = Field(default=24.0, ge=0)
    start_date: datetime | None = None
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=6, ge=0)
    max_properties_bytes: int = Field(default=1_000_000, ge=1)

    @field_validator("host")
    @classmethod
    def _strip_host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"POSTHOG_HOST={value!r} must start with http:// or https://")
        return value

    @field_validator("start_date")
    @classmethod
    def _utc_start(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @property
    def uses_demo(self) -> bool:
        """True when no API key is configured: the bundled demo API is started instead."""
        return self.api_key is None

    @property
    def legacy_page_size(self) -> int:
        return min(self.page_size, LEGACY_PAGE_CAP)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PostHogSettings:
        env = os.environ if env is None else env
        events_api = (_env(env, "POSTHOG_EVENTS_API") or "query").lower()
        if events_api not in ("query", "legacy"):
            raise SettingsError(f"POSTHOG_EVENTS_API={events_api!r} must be 'query' or 'legacy'")
        page_size = _int(env, "POSTHOG_PAGE_SIZE", DEFAULT_PAGE_SIZE, minimum=1)
        if page_size > DEFAULT_PAGE_SIZE:
            raise SettingsError(f"POSTHOG_PAGE_SIZE={page_size} exceeds PostHog's limit of 50000")
        start_raw = _env(env, "POSTHOG_START_DATE")
        key = _env(env, "POSTHOG_PERSONAL_API_KEY")
        host = _env(env, "POSTHOG_HOST")
        if host is not None and not host.startswith(("http://", "https://")):
            raise SettingsError(f"POSTHOG_HOST={host!r} must start with http:// or https://")
        if key is not None and host is None:
            raise SettingsError(
                "POSTHOG_PERSONAL_API_KEY is set but POSTHOG_HOST is not (e.g. https://us.posthog.com)"
            )
        return cls(
            project_ids=parse_project_ids(_env(env, "POSTHOG_PROJECT_ID")),
            host=host,
            api_key=SecretStr(key) if key else None,
            events_api=events_api,  # type: ignore[arg-type]
            page_size=page_size,
            lookback_hours=_float(env, "POSTHOG_LOOKBACK_HOURS", 24.0),
            start_date=parse_utc(start_raw, "POSTHOG_START_DATE") if start_raw else None,
            timeout=_float(env, "POSTHOG_REQUEST_TIMEOUT", 60.0, minimum=0.001),
            max_retries=_int(env, "POSTHOG_MAX_RETRIES", 6),
            max_properties_bytes=_int(env, "MAX_PROPERTIES_BYTES", 1_000_000, minimum=1),
        )


class WarehouseSettings(BaseModel):
    """Which warehouse dlt writes to and dbt/readers use."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["duckdb", "postgres"] = "duckdb"
    duckdb_path: Path = Path("./data/warehouse.duckdb")
    pg_host: str = "localhost"
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_password: SecretStr | None = None
    pg_database: str = "posthog"
    pipelines_dir: Path | None = None

    @property
    def dlt_pipelines_dir(self) -> Path:
        """Pipeline state lives next to the DuckDB file so temp-dir tests stay isolated."""
        if self.pipelines_dir is not None:
            return self.pipelines_dir
        return self.duckdb_path.expanduser().resolve().parent / ".dlt_pipelines"

    def postgres_dsn(self) -> str:
        """libpq connection string (password included: never log it)."""
        from urllib.parse import quote

        password = self.pg_password.get_secret_value() if self.pg_password else ""
        auth = quote(self.pg_user, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        return f"postgresql://{auth}@{self.pg_host}:{self.pg_port}/{quote(self.pg_database, safe='')}"

    def describe(self) -> str:
        """Where the warehouse is, safe to print."""
        if self.kind == "duckdb":
            return f"duckdb file {self.duckdb_path}"
        return f"postgres {self.pg_user}@{self.pg_host}:{self.pg_port}/{self.pg_database}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WarehouseSettings:
        env = os.environ if env is None else env
        kind = (_env(env, "WAREHOUSE") or "duckdb").lower()
        if kind not in ("duckdb", "postgres"):
            raise SettingsError(f"WAREHOUSE={kind!r} must be 'duckdb' or 'postgres'")
        password = _env(env, "PGPASSWORD")
        pipelines = _env(env, "DLT_PIPELINES_DIR")
        return cls(
            kind=kind,  # type: ignore[arg-type]
            duckdb_path=Path(_env(env, "DUCKDB_PATH") or "./data/warehouse.duckdb"),
            pg_host=_env(env, "PGHOST") or "localhost",
            pg_port=_int(env, "PGPORT", 5432, minimum=1),
            pg_user=_env(env, "PGUSER") or "postgres",
            pg_password=SecretStr(password) if password else None,
            pg_database=_env(env, "PGDATABASE") or "posthog",
            pipelines_dir=Path(pipelines) if pipelines else None,
        )
