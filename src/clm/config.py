"""Settings and the project config file.

Two things configure clm, and neither is read at import time:

* ``Settings`` (environment, prefix ``CLM_``): where the embedded databases live, which
  warehouse/store URL to use, locale, mail, secrets. Built by ``get_settings()``.
* ``ProjectConfig`` (a ``clm.toml`` file, usually beside the data): how the user's files map onto
  the data contract (column names in English or Chinese, encodings, file names) and how history
  is kept. Loaded by ``load_project_config(path)``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clm.errors import ConfigError

Encoding = Literal["auto", "utf-8", "utf-8-sig", "gbk", "gb18030"]
Step = Literal["day", "week", "month"]
# DuckDB's own default is 80% of RAM per connection; an import holds two connections at once.
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*([KMGT]i?B|B)\s*$", re.IGNORECASE)


class Settings(BaseSettings):
    """Process settings; every field can be set as ``CLM_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="CLM_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    home: Path = Field(default=Path(".clm"), description="Folder of the embedded databases")
    warehouse_url: str | None = Field(
        default=None, description="Ibis URL of the analytics warehouse (default: DuckDB in home)"
    )
    store_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the operational store (default: SQLite)"
    )
    locale: str = Field(default="en", description="Default language of labels: en or zh-CN")
    secret_key: str | None = Field(default=None, description="Signs sessions and webhooks")
    admin_password: SecretStr | None = Field(
        default=None, description="Password of the admin user created on the first start"
    )
    host: str = Field(default="127.0.0.1", description="Address `clm serve` listens on")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `clm serve` listens on")
    smtp_host: str | None = Field(
        default=None, description="SMTP server of reminder e-mails (unset: no e-mail)"
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="Port of the SMTP server")
    smtp_from: str = Field(default="clm@localhost", description="Sender of reminder e-mails")
    smtp_username: str | None = Field(default=None, description="SMTP login, if it needs one")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP link with STARTTLS")
    webhook_url: str | None = Field(
        default=None, description="URL that receives reminders as signed JSON (unset: none)"
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret signing reminder webhooks (HMAC-SHA256)"
    )
    duckdb_memory_limit: str = Field(
        default=DEFAULT_DUCKDB_MEMORY_LIMIT,
        description="Memory DuckDB may use (warehouse and import staging); beyond it, it spills",
    )

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        if not _MEMORY.match(value):
            raise ValueError(f"{value!r} is not a size such as 2GB, 1.5GiB or 800MB")
        return value.strip()

    def resolved_warehouse_url(self) -> str:
        return self.warehouse_url or f"duckdb://{(self.home / 'warehouse.duckdb').as_posix()}"

    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{(self.home / 'clm.sqlite').as_posix()}"

    def check_safe(self) -> None:
        """Refuse unsafe defaults outside development (no secret key in production)."""
        if self.environment == "production" and not self.secret_key:
            raise ConfigError("CLM_SECRET_KEY must be set when CLM_ENVIRONMENT=production")


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides taking precedence."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"setting CLM_{field.upper()}: {first['msg']}", field=field) from None


class IngestConfig(BaseModel):
    model_config = {"extra": "forbid"}

    encoding: Encoding = "auto"
    # table -> {their header: contract column}
    columns: dict[str, dict[str, str]] = Field(default_factory=dict)
    # table -> file name inside the data folder (default: <table>.csv/.xlsx/.parquet/.jsonl)
    files: dict[str, str] = Field(default_factory=dict)

    @field_validator("columns", "files")
    @classmethod
    def _known_tables(cls, value: dict) -> dict:
        from clm.domain.contract import TABLES

        for table in value:
            if table not in TABLES:
                raise ValueError(f"unknown table {table!r}; tables are {', '.join(TABLES)}")
        return value


class HistoryConfig(BaseModel):
    model_config = {"extra": "forbid"}

    step: Step = Field(default="month", description="Step of the backfill a first run makes")


class ProjectConfig(BaseModel):
    """The ``clm.toml`` file: everything about a company's data that is not code."""

    model_config = {"extra": "forbid"}

    ingest: IngestConfig = Field(default_factory=IngestConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)


def load_project_config(path: Path | None) -> ProjectConfig:
    """Read ``clm.toml``; a missing path gives the defaults, a bad file a ``ConfigError``."""
    if path is None or not path.exists():
        return ProjectConfig()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", file=str(path)) from None
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"{path}: [{where}] {first['msg']}", file=str(path), field=where
        ) from None
