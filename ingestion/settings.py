"""Settings for the PostHog source and the warehouse, read from environment variables.

Every setting has a default so the project runs with nothing configured (demo API + DuckDB file).
Validation errors name the environment variable that holds the bad value.
"""

from __future__ import annotations

import os
import re
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


WAREHOUSE_KINDS = ("duckdb", "postgres", "spark")
DBT_TARGETS = ("duckdb", "postgres", "spark", "spark_thrift")
# Every environment variable that picks the warehouse and how dbt reaches it. A Dagster dbt step pins
# them into os.environ for its subprocess; tests and benchmarks clear or restore exactly this set.
WAREHOUSE_CHOICE_ENV = (
    "WAREHOUSE",
    "DBT_TARGET",
    "SPARK_DATA_DIR",
    "SPARK_LAKE_URL",
    "SPARK_MASTER",
    "SPARK_DRIVER_MEMORY",
    "SPARK_THRIFT_HOST",
    "SPARK_THRIFT_PORT",
    "SPARK_SHUFFLE_PARTITIONS",
    "SPARK_LOG4J_CONFIG",
)
_SPARK_MASTER = re.compile(r"^(local(\[(\*|[1-9][0-9]*)(,\s*[0-9]+)?\])?|(spark|yarn|k8s)(://\S+)?)$")
_JVM_MEMORY = re.compile(r"^[1-9][0-9]*[kKmMgGtT]?$")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _lake_url(raw: str, name: str) -> str:
    """A local folder (made absolute) or a bucket URL such as s3://bucket/prefix (kept as written)."""
    if _URL_SCHEME.match(raw):
        scheme, rest = raw.split("://", 1)
        if scheme.lower() == "file":
            return str(Path(rest).expanduser().resolve())
        if not rest.strip("/"):
            raise SettingsError(f"{name}={raw!r} names no bucket or folder")
        return raw.rstrip("/")
    if "://" in raw or raw.startswith(("s3:", "gs:", "az:")):
        raise SettingsError(f"{name}={raw!r} is neither a folder path nor a URL like s3://bucket/prefix")
    return str(Path(raw).expanduser().resolve())


def _redact_url(url: str) -> str:
    """A URL with any user:password@ part removed, safe to print."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    host, sep, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    return f"{scheme}://{host}{sep}{path}"


class WarehouseSettings(BaseModel):
    """Which warehouse dlt writes to and dbt/readers use.

    `spark`: dlt writes Parquet files into a lake (SPARK_LAKE_URL, default <SPARK_DATA_DIR>/lake), dbt runs
    on Spark (metastore, warehouse and scratch all under SPARK_DATA_DIR) and readers open the Parquet
    folders with an in-process DuckDB (no JVM outside dbt).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["duckdb", "postgres", "spark"] = "duckdb"
    duckdb_path: Path = Path("./data/warehouse.duckdb")
    pg_host: str = "localhost"
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_password: SecretStr | None = None
    pg_database: str = "posthog"
    pipelines_dir: Path | None = None
    spark_data_dir: Path = Path("./data/spark")
    spark_lake_url: str | None = None
    spark_master: str = "local[2]"
    spark_driver_memory: str = "1g"
    dbt_target: str | None = None
    spark_thrift_host: str = "127.0.0.1"
    spark_thrift_port: int = 10000

    @property
    def spark_dir(self) -> Path:
        """SPARK_DATA_DIR as an absolute path (dbt runs in another working directory)."""
        return self.spark_data_dir.expanduser().resolve()

    @property
    def lake_url(self) -> str:
        """Where dlt writes the Parquet lake: SPARK_LAKE_URL, else <SPARK_DATA_DIR>/lake (absolute)."""
        if self.spark_lake_url:
            return self.spark_lake_url
        return str(self.spark_dir / "lake")

    @property
    def lake_is_local(self) -> bool:
        return not _URL_SCHEME.match(self.lake_url)

    @property
    def spark_warehouse_dir(self) -> Path:
        """spark.sql.warehouse.dir: dbt-built tables live in <this>/<schema>.db/<table>/."""
        return self.spark_dir / "warehouse"

    @property
    def target(self) -> str:
        """The dbt target: DBT_TARGET, else the warehouse kind."""
        return self.dbt_target or self.kind

    @property
    def dlt_pipelines_dir(self) -> Path:
        """Pipeline state lives next to the warehouse (DuckDB file folder, or SPARK_DATA_DIR) so temp-dir
        tests stay isolated."""
        if self.pipelines_dir is not None:
            return self.pipelines_dir
        if self.kind == "spark":
            return self.spark_dir / ".dlt_pipelines"
        return self.duckdb_path.expanduser().resolve().parent / ".dlt_pipelines"

    def postgres_dsn(self) -> str:
        """libpq connection string (password included: never log it)."""
        from urllib.parse import quote

        password = self.pg_password.get_secret_value() if self.pg_password else ""
        auth = quote(self.pg_user, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        return f"postgresql://{auth}@{self.pg_host}:{self.pg_port}/{quote(self.pg_database, safe='')}"

    def spark_env(self) -> dict[str, str]:
        """The Spark settings as absolute environment values, for dbt subprocesses."""
        env = {
            "SPARK_DATA_DIR": str(self.spark_dir),
            "SPARK_LAKE_URL": self.lake_url,
            "SPARK_MASTER": self.spark_master,
            "SPARK_DRIVER_MEMORY": self.spark_driver_memory,
            "SPARK_THRIFT_HOST": self.spark_thrift_host,
            "SPARK_THRIFT_PORT": str(self.spark_thrift_port),
        }
        return env

    def describe(self) -> str:
        """Where the warehouse is, safe to print."""
        if self.kind == "duckdb":
            return f"duckdb file {self.duckdb_path}"
        if self.kind == "spark":
            where = (
                f"thrift {self.spark_thrift_host}:{self.spark_thrift_port}"
                if self.target == "spark_thrift"
                else f"master {self.spark_master}"
            )
            return f"spark lake {_redact_url(self.lake_url)} (data dir {self.spark_dir}, {where})"
        return f"postgres {self.pg_user}@{self.pg_host}:{self.pg_port}/{self.pg_database}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WarehouseSettings:
        env = os.environ if env is None else env
        kind = (_env(env, "WAREHOUSE") or "duckdb").lower()
        if kind not in WAREHOUSE_KINDS:
            raise SettingsError(f"WAREHOUSE={kind!r} must be one of {', '.join(WAREHOUSE_KINDS)}")
        password = _env(env, "PGPASSWORD")
        pipelines = _env(env, "DLT_PIPELINES_DIR")
        target = _env(env, "DBT_TARGET")
        if target is not None:
            target = target.lower()
            if target not in DBT_TARGETS:
                raise SettingsError(f"DBT_TARGET={target!r} must be one of {', '.join(DBT_TARGETS)}")
            family = "spark" if target.startswith("spark") else target
            if family != kind:
                raise SettingsError(
                    f"DBT_TARGET={target!r} does not match WAREHOUSE={kind!r}"
                    " (dlt would load one warehouse and dbt build another)"
                )
        master = _env(env, "SPARK_MASTER") or "local[2]"
        if not _SPARK_MASTER.match(master):
            raise SettingsError(
                f"SPARK_MASTER={master!r} is not a Spark master URL (local, local[2], local[*], spark://host:7077)"
            )
        memory = _env(env, "SPARK_DRIVER_MEMORY") or "1g"
        if not _JVM_MEMORY.match(memory):
            raise SettingsError(f"SPARK_DRIVER_MEMORY={memory!r} is not a JVM memory size such as 1g or 512m")
        lake = _env(env, "SPARK_LAKE_URL")
        return cls(
            kind=kind,  # type: ignore[arg-type]
            duckdb_path=Path(_env(env, "DUCKDB_PATH") or "./data/warehouse.duckdb"),
            pg_host=_env(env, "PGHOST") or "localhost",
            pg_port=_int(env, "PGPORT", 5432, minimum=1),
            pg_user=_env(env, "PGUSER") or "postgres",
            pg_password=SecretStr(password) if password else None,
            pg_database=_env(env, "PGDATABASE") or "posthog",
            pipelines_dir=Path(pipelines) if pipelines else None,
            spark_data_dir=Path(_env(env, "SPARK_DATA_DIR") or "./data/spark"),
            spark_lake_url=_lake_url(lake, "SPARK_LAKE_URL") if lake else None,
            spark_master=master,
            spark_driver_memory=memory,
            dbt_target=target,
            spark_thrift_host=_env(env, "SPARK_THRIFT_HOST") or "127.0.0.1",
            spark_thrift_port=_int(env, "SPARK_THRIFT_PORT", 10000, minimum=1),
        )
