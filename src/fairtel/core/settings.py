"""One typed settings object, read once in ``bootstrap`` and passed in.

Sources, highest first: keyword arguments, ``FAIRTEL_*`` environment variables, ``fairtel.toml`` (in the
working directory, or the file named by ``FAIRTEL_CONFIG``), defaults. Every field is documented in
docs/operations.md#settings.
"""

from __future__ import annotations

import os
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from fairtel.core.errors import ConfigError
from fairtel.core.money import minor_units
from fairtel.core.time import DEMO_TIMEZONE, zone

DEFAULT_SECRET = "change-me-development-only"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class EngineKind(StrEnum):
    LOCAL = "local"
    SPARK = "spark"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FAIRTEL_", extra="ignore", validate_default=True)

    home: Path = Field(Path("var"), description="Directory for everything fairtel writes (database, lake, models, outbox, rejects).")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file fairtel.db under home. PostgreSQL: postgresql+psycopg://user@host/db.")
    timezone: str = Field(DEMO_TIMEZONE, description="The operator's time zone: billing periods, time bands and reports use it.")
    currency: str = Field("CNY", description="Default billing currency (ISO 4217).")
    environment: Environment = Field(Environment.DEVELOPMENT, description="development, test or production; production refuses default secrets.")
    secret_key: SecretStr = Field(SecretStr(DEFAULT_SECRET), description="Key for tokens and keyed pseudonyms of subscriber numbers. Must be set outside development.")
    engine: EngineKind = Field(EngineKind.LOCAL, description="Where kernels run: local (Polars/DuckDB) or spark.")
    spark_master: str = Field("local[2]", description="Spark master URL when engine=spark.")
    batch_size: int = Field(1_000_000, ge=1_000, description="Records per Arrow batch in mediation and rating; bounds memory.")
    workers: int = Field(0, ge=0, description="Processes rating a period on this machine; 0: one per CPU. Periods under 1.5 M records are rated in one process.")
    partial_timeout_s: int = Field(6 * 3600, ge=0, description="Seconds a partial record waits for its final part before it is emitted flagged incomplete.")
    api_host: str = Field("127.0.0.1", description="Address `fairtel serve` binds.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port `fairtel serve` binds.")
    log_level: str = Field("INFO", description="Logging level.")
    tax_rates: dict[str, Decimal] = Field(default_factory=dict, description="Tax billing adds on top of charges, per kind (plan_fee, voice, sms, data, vas), e.g. {\"voice\": \"0.09\"}; default: none.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        zone(v)
        return v

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, v: str) -> str:
        code = v.strip().upper()
        minor_units(code)  # every amount billed in it must be representable as Money
        return code

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config = Path(os.environ.get("FAIRTEL_CONFIG", "fairtel.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        return tuple(sources)

    # Derived locations: one home, nothing outside it.
    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'fairtel.db').resolve()}"

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def rejects_dir(self) -> Path:
        return self.home / "rejects"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    def check_secrets(self) -> None:
        """Outside development, a secret left at its default, or empty, is refused."""
        if self.environment is Environment.DEVELOPMENT:
            return
        secret = self.secret_key.get_secret_value().strip()
        if secret == DEFAULT_SECRET:
            raise ConfigError("FAIRTEL_SECRET_KEY is left at its default; set a secret outside development")
        if not secret:
            # an empty key makes keyed pseudonyms and ids computable by anyone, like no key at all
            raise ConfigError("FAIRTEL_SECRET_KEY is empty; set a secret outside development")


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
