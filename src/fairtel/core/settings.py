"""One typed settings object, read once in ``bootstrap`` and passed in.

Sources, highest first: keyword arguments, ``FAIRTEL_*`` environment variables, ``fairtel.toml`` (in the
working directory, or the file named by ``FAIRTEL_CONFIG``), defaults. Every field is documented in
docs/operations.md#settings.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from fairtel.core.contracts import ComplaintCategory
from fairtel.core.errors import ConfigError, Problem
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


# Complaint categories an SLA table may name: ``default`` (every category not named) and the complaint category
# codes (``core.contracts``, which care's complaints use too).
SLA_CATEGORIES: tuple[str, ...] = ("default", *(c.value for c in ComplaintCategory))
SLA_KEYS = ("acknowledge", "resolve", "escalate_after_hours")
MAX_SLA_HOURS = 24 * 366  # a deadline past a year is a typo, and would overflow dates near the end of time


class SlaHours(BaseModel):
    """The operator's complaint deadlines: hours to acknowledge and to resolve per category, and the margin
    past the resolution deadline after which a complaint goes to the manager. Each value given replaces the
    built-in one of ``fairtel.care.SlaPolicy``; categories not named keep theirs (``care.sla_policy``)."""

    model_config = ConfigDict(frozen=True)

    acknowledge: dict[str, int] = Field(default_factory=dict)
    resolve: dict[str, int] = Field(default_factory=dict)
    escalate_after_hours: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _checked(cls, value: Any) -> Any:
        """Every problem at once, each with the key it is about (``load_settings`` adds file and line)."""
        if isinstance(value, SlaHours):
            return value
        problems: list[tuple[tuple[str, ...], str]] = []
        if not isinstance(value, Mapping):
            raise SlaSettingError([((), f"a table of {', '.join(SLA_KEYS)}, not {value!r}")])
        for key in value:
            if key not in SLA_KEYS:
                problems.append(((str(key),), f"not an SLA setting; one of {', '.join(SLA_KEYS)}"))
        for kind in ("acknowledge", "resolve"):
            table = value.get(kind, {})
            if not isinstance(table, Mapping):
                problems.append(((kind,), f"a table of hours per complaint category, not {table!r}"))
                continue
            for category, hours in table.items():
                if category not in SLA_CATEGORIES:
                    problems.append(((kind, str(category)), f"not a complaint category; one of {', '.join(SLA_CATEGORIES)}"))
                if (why := _hours_problem(hours, least=1)) is not None:
                    problems.append(((kind, str(category)), why))
        margin = value.get("escalate_after_hours")
        if margin is not None and (why := _hours_problem(margin, least=0)) is not None:
            problems.append((("escalate_after_hours",), why))
        if problems:
            raise SlaSettingError(problems)
        return value


class SlaSettingError(ValueError):
    """What is wrong with the ``sla`` setting: (key path under ``sla``, message) pairs."""

    def __init__(self, problems: list[tuple[tuple[str, ...], str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(('sla', *p))}: {m}" for p, m in problems))
        self.problems = problems


def _hours_problem(value: Any, *, least: int) -> str | None:
    # bool is an int to Python, and 12.0 or "12" are likely a misplaced decimal or quote: whole numbers only
    if isinstance(value, bool) or not isinstance(value, int):
        return f"a whole number of hours, not {value!r}"
    if not least <= value <= MAX_SLA_HOURS:
        low = "above 0" if least == 1 else "0 or more"
        return f"hours must be {low} and at most {MAX_SLA_HOURS}, not {value}"
    return None


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
    sla: SlaHours = Field(default_factory=SlaHours, description="Complaint deadlines: hours to acknowledge and to resolve per category, and the manager-escalation margin, over the built-in policy; e.g. {\"resolve\": {\"unexplained_charge\": 12}}.")

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
        config = config_path()
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

    def clock_mismatch(self, catalog_timezone: str) -> str | None:
        """Why a catalog whose ``[operator] timezone`` is ``catalog_timezone`` may not be used with these settings, or
        None when both name one clock. Mediation files each usage record under the billing period of its start on
        ``timezone`` (FAIRTEL_TIMEZONE); rating, billing and time bands read periods on the catalog's clock. On two
        clocks a call near a month's end is filed under one period and rated under the other: it is never rated, and
        the period it sits in cannot be rated at all."""
        if same_clock(self.timezone, catalog_timezone):
            return None
        return (f"the catalog's [operator] timezone is {catalog_timezone} but FAIRTEL_TIMEZONE (timezone in fairtel.toml) "
                f"is {self.timezone}: usage is filed under billing periods on FAIRTEL_TIMEZONE's clock and rated on the "
                "catalog's, so records near a month's end would never be rated; set FAIRTEL_TIMEZONE="
                f"{catalog_timezone} (before any usage is ingested) or give the catalog timezone = \"{self.timezone}\"")

    def check_clock(self, catalog_timezone: str) -> None:
        """Raise ``ConfigError`` when the catalog's clock is not these settings' (``clock_mismatch``)."""
        why = self.clock_mismatch(catalog_timezone)
        if why is not None:
            raise ConfigError(why, details={"catalog_timezone": catalog_timezone, "timezone": self.timezone})

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


def same_clock(a: str, b: str) -> bool:
    """Whether two IANA time zones read as one clock for fairtel: the same name, or (another name for the same
    zone: ``UTC`` and ``Etc/UTC``) the same offset at the start and the middle of every month from 1970 to 2100,
    so that both put every instant in the same billing period."""
    if a == b:
        return True
    za, zb = zone(a), zone(b)
    for year in range(1970, 2101):
        for month in range(1, 13):
            for day, hour in ((1, 0), (15, 12)):
                if (datetime(year, month, day, hour, tzinfo=za).utcoffset()
                        != datetime(year, month, day, hour, tzinfo=zb).utcoffset()):
                    return False
    return True


def toml_line(text: str, path: tuple[str, ...]) -> int | None:
    """The line of the key ``path`` in a TOML document (``("operator", "timezone")``), for error messages."""
    return _toml_line(text, path)


def config_path() -> Path:
    """The settings file: ``FAIRTEL_CONFIG``, else ``fairtel.toml`` in the working directory."""
    return Path(os.environ.get("FAIRTEL_CONFIG", "fairtel.toml"))


def load_settings(**overrides: Any) -> Settings:
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = _sla_problems(exc, given)
        if not problems:
            raise ConfigError(f"invalid settings: {exc}") from exc
        others = [e for e in exc.errors() if not _is_sla_error(e)]
        text = [str(p) for p in problems] + [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in others]
        raise ConfigError("invalid settings: " + "; ".join(text), details={"problems": text}) from exc
    except Exception as exc:
        if isinstance(exc, SettingsError) and (problems := _env_json_problems()):
            text = [str(p) for p in problems]
            raise ConfigError("invalid settings: " + "; ".join(text), details={"problems": text}) from exc
        raise ConfigError(f"invalid settings: {exc}") from exc


# Settings whose environment variable holds JSON (a table): pydantic-settings only says it could not parse one.
_JSON_SETTINGS = ("sla", "tax_rates")


def _env_json_problems() -> list[Problem]:
    """The JSON settings in the environment that are not JSON, each named by its variable, with where the text
    stops being JSON (line and column, from 1)."""
    out: list[Problem] = []
    for name in _JSON_SETTINGS:
        var = f"FAIRTEL_{name.upper()}"
        value = next((v for k, v in os.environ.items() if k.upper() == var), None)  # names match in any case
        if value is None:
            continue
        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            where = f"column {exc.colno}" if exc.lineno == 1 else f"line {exc.lineno} column {exc.colno}"
            out.append(Problem(var, None, name, f"not valid JSON: {exc.msg} at {where} of {_value_text(value)}"))
    return out


def _value_text(value: str) -> str:
    return repr(value) if len(value) <= 80 else repr(value[:77]) + "..."


def _is_sla_error(error: Any) -> bool:
    return bool(error["loc"]) and error["loc"][0] == "sla" and isinstance(error.get("ctx", {}).get("error"), SlaSettingError)


def _sla_problems(exc: ValidationError, given: Mapping[str, Any]) -> list[Problem]:
    """The ``sla`` setting's problems, each named by the source that set the value: the argument, the
    ``FAIRTEL_SLA`` variable, or the settings file with its line (sources merge key by key, highest first)."""
    out: list[Problem] = []
    for error in exc.errors():
        if not _is_sla_error(error):
            continue
        for path, message in error["ctx"]["error"].problems:
            field = ".".join(("sla", *path))
            out.append(Problem(*_sla_origin(path, given), field, message))
    return out


def _sla_origin(path: tuple[str, ...], given: Mapping[str, Any]) -> tuple[str, int | None]:
    def holds(value: Any) -> bool:
        for key in path:
            if not isinstance(value, Mapping) or key not in value:
                return False
            value = value[key]
        return True

    if "sla" in given and holds(given["sla"]):
        return "settings argument sla", None
    env = next((v for k, v in os.environ.items() if k.upper() == "FAIRTEL_SLA"), None)
    if env is not None:
        try:
            from_env = json.loads(env)
        except ValueError:
            from_env = None
        if holds(from_env):
            return "FAIRTEL_SLA", None
    config = config_path()
    if config.is_file():
        text = config.read_text(encoding="utf-8")
        return str(config), _toml_line(text, ("sla", *path))
    return "FAIRTEL_SLA" if env is not None else "settings", None


def _toml_keys(text: str) -> tuple[str, ...]:
    """The keys of a (possibly dotted, possibly quoted) TOML key."""
    return tuple(k.strip().strip("\"'") for k in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', text.strip()))


_KEY = re.compile(r'\s*("[^"]*"|\'[^\']*\'|[A-Za-z0-9_\-]+(?:\s*\.\s*(?:"[^"]*"|\'[^\']*\'|[A-Za-z0-9_\-]+))*)\s*=\s*')


def _toml_line(text: str, path: tuple[str, ...]) -> int | None:
    """The line of ``path`` (keys from the top) in a TOML document: where its key is written (under a table
    header, dotted, or in an inline table), else where its nearest enclosing table is; None when nowhere.
    A reader's aid for error messages, not a parser: the document has already parsed."""
    best: tuple[int, int] | None = None  # (keys matched, line)

    def seen(keys: tuple[str, ...], n: int) -> None:
        nonlocal best
        if keys and keys == path[:len(keys)] and (best is None or len(keys) > best[0]):
            best = (len(keys), n)

    table: tuple[str, ...] = ()
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[\[?([^\[\]]+)\]\]?\s*(#.*)?", line)
        if header:
            table = _toml_keys(header.group(1))
            seen(table, n)
            continue
        # key = value, where value may be an inline table holding more keys (on this line: TOML says so)
        stack, pos = [table], 0
        while pos < len(line):
            m = _KEY.match(line, pos)
            if m is None:
                ch = line[pos]
                if ch == "#":  # a comment to the end of the line (one inside a string is skipped below)
                    break
                if ch == "}" and len(stack) > 1:
                    stack.pop()
                if ch in "\"'":  # skip a string value whole: it may hold '=', '{' or '}'
                    end = line.find(ch, pos + 1)
                    pos = len(line) if end < 0 else end + 1
                    continue
                pos += 1
                continue
            keys = stack[-1] + _toml_keys(m.group(1))
            seen(keys, n)
            pos = m.end()
            if line.startswith("{", pos):
                stack.append(keys)
                pos += 1
    return None if best is None else best[1]
