"""One typed settings object, read once in ``bootstrap`` and passed in.

Sources, highest first: keyword arguments, ``FAIRTEL_*`` environment variables, ``fairtel.toml`` (in the
working directory, or the file named by ``FAIRTEL_CONFIG``), defaults. Every field is documented in
docs/operations.md#settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import sys
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from fairtel.core.contracts import ComplaintCategory
from fairtel.core.countries import COUNTRIES, country_of_timezone
from fairtel.core.errors import ConfigError, FairtelError, Problem
from fairtel.core.money import minor_units
from fairtel.core.time import DEMO_TIMEZONE, zone

# The example secret the documentation once showed: public, so never used to key anything. Given as the secret (or
# an empty one), it counts as no secret: development then uses the home's own key, other environments refuse.
DEFAULT_SECRET = "change-me-development-only"
SECRET_FILE = "secret.key"  # the home's own key, made on first use when no secret is set (``HomeSecret``)
HOME_MODE = 0o700  # the home and what fairtel writes in it hold personal data: its owner only


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
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")  # the standard library's levels, by name
MIN_METRICS_TOKEN = 16  # a shorter bearer token for ``/metrics`` could be guessed

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


# Consent events are kept at least the regulators' five months (``fairtel.consent.REGULATORY_MIN_RETENTION_MONTHS``).
MIN_CONSENT_RETENTION_MONTHS = 5
MAX_RETENTION_MONTHS = 12 * 30  # 30 years: a larger value is a typo (days or years given as months)


class RetentionSettings(BaseModel):
    """How long personal data is kept before ``fairtel retention apply`` removes or anonymises it (the ``[retention]``
    table of fairtel.toml, or ``FAIRTEL_RETENTION`` as JSON). Each default and where it comes from is in
    docs/operations.md#data-retention."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    usage_months: int = Field(6, ge=1, le=MAX_RETENTION_MONTHS, description="Months the usage detail of a billed period (the lake's clean usage and rated records) is kept after the period ends: Chinese operators let subscribers query their detailed bills (详单) for the last six months.")
    rejects_days: int = Field(90, ge=1, le=MAX_RETENTION_MONTHS * 31, description="Days a rejects file of mediation (the original records it refused) is kept after it was written: long enough to correct and resend a feed within a quarter.")
    consent_months: int = Field(24, ge=MIN_CONSENT_RETENTION_MONTHS, le=MAX_RETENTION_MONTHS, description="Months a VAS subscription's consent events are kept after it ended (consent's policy, ConsentPolicy.retention_months; at least the regulators' five months).")
    transcript_months: int = Field(12, ge=1, le=MAX_RETENTION_MONTHS, description="Months after a trouble ticket was settled that its conversation and agents' notes are kept; the ticket itself stays, without the words.")
    billed_months: int = Field(12, ge=1, le=MAX_RETENTION_MONTHS, description="Months the bill run's snapshot detail of a period (the lake's billed records: the rated lines a bill was issued from) is kept after the period ends; never less than usage_months (the later of the two applies). The bills, bill lines and the bills dataset stay.")
    complaint_months: int = Field(12, ge=1, le=MAX_RETENTION_MONTHS, description="Months after a complaint was settled (closed or resolved) that the subscriber's words (its text) are kept; the complaint itself stays (category, dates, outcome) for the KPIs, without the words.")
    survey_comment_months: int = Field(12, ge=1, le=MAX_RETENTION_MONTHS, description="Months an NPS answer's comment is kept after it was answered; the score stays for the NPS history.")
    outbox_days: int = Field(90, ge=1, le=MAX_RETENTION_MONTHS * 31, description="Days a message of the outbox (<home>/outbox/messages.jsonl: the SMS texts sent, with amounts and numbers) is kept after it was made.")
    fraud_case_months: int = Field(24, ge=1, le=MAX_RETENTION_MONTHS, description="Months after a fraud case was decided (confirmed or a false alarm) that the case and its evidence (<home>/fraud/cases.jsonl) are kept; the decisions stay.")
    retention_list_days: int = Field(30, ge=1, le=MAX_RETENTION_MONTHS * 31, description="Days the retention call list (<home>/outbox/retention.csv) is kept after it was written: a campaign's month.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FAIRTEL_", extra="ignore", validate_default=True)

    home: Path = Field(Path("var"), description="Directory for everything fairtel writes (database, lake, models, outbox, rejects).")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file fairtel.db under home. PostgreSQL: postgresql+psycopg://user@host/db.")
    timezone: str = Field(DEMO_TIMEZONE, description="The operator's time zone: billing periods, time bands and reports use it.")
    currency: str = Field("CNY", description="Default billing currency (ISO 4217).")
    country: str | None = Field(None, description="The operator's home country (ISO 3166-1 alpha-2, e.g. DE): numbers written as dialled there (0151 2345 6789 in DE) are read as its E.164 numbers (+49) wherever free text is pseudonymised or masked. Default: the country of timezone (Asia/Shanghai: CN). Must agree with the catalog's [operator] country when it names one.")
    environment: Environment = Field(Environment.DEVELOPMENT, description="development, test or production; production refuses default secrets.")
    secret_key: SecretStr = Field(SecretStr(""), description="Key for keyed pseudonyms of subscriber numbers and logins, keyed ids, and tokens unless token_key is set. Must be set outside development; unset in development, a random key made on first use and kept in the home (secret.key) is used.")
    token_key: SecretStr | None = Field(None, description="Key that signs access tokens and the console's session and form tokens, apart from secret_key: set or change it to end every token issued (after a leak) while pseudonyms, keyed ids and the audit's subjects stay as they are. Unset: secret_key signs them.")
    engine: EngineKind = Field(EngineKind.LOCAL, description="Where kernels run: local (Polars/DuckDB) or spark.")
    spark_master: str = Field("local[2]", description="Spark master URL when engine=spark.")
    spark_conf: dict[str, str] = Field(default_factory=dict, description="Spark options for the sessions fairtel starts when engine=spark (`fairtel rate`, the spark-submit job), over spark-defaults.conf, e.g. {\"spark.sql.shuffle.partitions\": \"8\"}; default: none (on a local[N] master the shuffle partitions default to 2 x N).")
    batch_size: int = Field(1_000_000, ge=1_000, description="Records per Arrow batch in mediation and rating; bounds memory.")
    workers: int = Field(0, ge=0, description="Processes rating a period on this machine; 0: one per CPU. Periods under 1.5 M records are rated in one process.")
    partial_timeout_s: int = Field(6 * 3600, ge=0, description="Seconds a partial record waits for its final part before it is emitted flagged incomplete.")
    console_idle_minutes: int = Field(30, ge=1, le=24 * 60, description="Minutes a console session may go unused before it ends (its next request goes to the login page and its token is ended); the absolute limit of 8 hours stays.")
    console_behind_tls: bool = Field(False, description="The console is reached over HTTPS through a proxy that does not say so (X-Forwarded-Proto): every answer carries Strict-Transport-Security. Never set it for a console served over plain http.")
    bill_chunk: int = Field(5_000, ge=1, description="Subscribers a bill run bills at a time: its memory is one chunk's lines and bills whatever the register's size; the bills, parts and report are those of a run in one piece.")
    lock_wait_s: float = Field(30.0, ge=0.1, le=3600, description="Seconds a database statement waits for a lock another transaction holds (SQLite busy_timeout, PostgreSQL lock_timeout) before it fails as database_busy naming the operation, instead of a request or a command hanging.")
    future_tolerance_days: int = Field(7, ge=1, le=28, description="Days past the moment of ingest a record may start before mediation refuses it as future_timestamp (a switch clock set wrong); 1 to 28, so that a record within it lands at worst in the next billing period.")
    api_host: str = Field("127.0.0.1", description="Address `fairtel serve` binds.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port `fairtel serve` binds.")
    log_level: str = Field("INFO", description=f"Logging level of fairtel's own lines and the server's: {', '.join(LOG_LEVELS)} (in any case).")
    metrics_token: SecretStr | None = Field(None, description=f"Bearer token a monitor sends to read `GET /metrics` (`Authorization: Bearer <token>`), at least {MIN_METRICS_TOKEN} characters; unset: the metrics are served only to this machine. Never printed.")
    tax_rates: dict[str, Decimal] = Field(default_factory=dict, description="Tax billing adds on top of charges, per kind (plan_fee, voice, sms, data, vas), e.g. {\"voice\": \"0.09\"}; default: none.")
    sla: SlaHours = Field(default_factory=SlaHours, description="Complaint deadlines: hours to acknowledge and to resolve per category, and the manager-escalation margin, over the built-in policy; e.g. {\"resolve\": {\"unexplained_charge\": 12}}.")
    retention: RetentionSettings = Field(default_factory=RetentionSettings, description="How long personal data is kept before `fairtel retention apply` removes it: usage_months (6), rejects_days (90), consent_months (24), transcript_months (12), billed_months (12), complaint_months (12), survey_comment_months (12), outbox_days (90), fraud_case_months (24), retention_list_days (30); e.g. [retention] usage_months = 12.")

    # Why the secret given is no secret (not set, empty, the public example), or None when one was set.
    _secret_unset: str | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _home_key_unless_set(self) -> Settings:
        """No secret given (or an empty one, or the public example): the home's own key (``HomeSecret``), never a
        constant anyone can read. Outside development ``check_secrets`` refuses such settings."""
        given = self.secret_key.get_secret_value().strip() if "secret_key" in self.model_fields_set else None
        if given is None:
            self._secret_unset = "is not set"
        elif not given:
            self._secret_unset = "is empty"
        elif given == DEFAULT_SECRET:
            self._secret_unset = "is left at its default (the public example value)"
        if self._secret_unset is not None:
            # into the dict: not an assignment, so the field still counts as not set (``model_fields_set``)
            self.__dict__["secret_key"] = HomeSecret(self.home)
        return self

    @field_validator("token_key")
    @classmethod
    def _token_key_is_a_key(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty token key is none (``secret_key`` signs); a short one, or the public example, is refused."""
        if value is None or not value.get_secret_value().strip():
            return None
        key = value.get_secret_value().strip()
        if key == DEFAULT_SECRET or len(key) < 16:
            raise ValueError("FAIRTEL_TOKEN_KEY must be a secret of 16 characters or more (32 random bytes from a "
                             "vault, say), not the public example value")
        return SecretStr(key)

    @field_validator("spark_conf", mode="before")
    @classmethod
    def _spark_options(cls, value: Any) -> Any:
        """Spark options as text by name: a table's numbers and booleans as Spark writes them (``8``, ``true``),
        and dotted keys written unquoted in fairtel.toml (``spark.sql.shuffle.partitions = 8``, which TOML reads
        as nested tables) joined back into one name. Every name is a Spark option (``spark.``)."""
        if not isinstance(value, Mapping):
            return value  # pydantic says what it wanted

        def flat(table: Mapping[Any, Any], prefix: str) -> Iterator[tuple[str, Any]]:
            for k, v in table.items():
                name = f"{prefix}{k}"
                if isinstance(v, Mapping):
                    yield from flat(v, f"{name}.")
                else:
                    yield name, v

        out: dict[str, str] = {}
        for name, v in flat(value, ""):
            if not name.startswith("spark."):
                raise ValueError(f"{name!r} is not a Spark option (their names begin with 'spark.')")
            if isinstance(v, bool):
                out[name] = "true" if v else "false"
            elif isinstance(v, str | int | Decimal) or type(v) is float:
                out[name] = str(v)
            else:
                raise ValueError(f"the Spark option {name!r} needs a text, number or boolean value, not {type(v).__name__}")
        return out

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, v: str) -> str:
        """A level the logging module knows by name, in any case (``info``, ``Warning``): an unknown one would stop
        ``fairtel serve`` only when the server starts, and be taken silently by every other command."""
        level = v.strip().upper()
        if level == "WARN":
            level = "WARNING"
        if level not in LOG_LEVELS:
            raise ValueError(f"{v!r} is not a logging level; one of {', '.join(LOG_LEVELS)} (in any case)")
        return level

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty token is none (metrics served only to this machine); a short one is refused, without its value."""
        if value is None or not value.get_secret_value().strip():
            return None
        token = value.get_secret_value().strip()
        if len(token) < MIN_METRICS_TOKEN:
            raise ValueError(f"a metrics token needs at least {MIN_METRICS_TOKEN} characters (it has {len(token)}); "
                             "make one with `openssl rand -hex 32`")
        return SecretStr(token)

    def token_signing_key(self) -> str:
        """The key access tokens (and the console's form tokens) are signed with: ``token_key`` when set, else
        ``secret_key``. Replacing it ends every token issued under it and changes nothing else: the pseudonyms,
        keyed ids and the subscriber order stay keyed by ``secret_key``."""
        return self.token_key.get_secret_value() if self.token_key is not None else self.secret_key.get_secret_value()

    @property
    def secret_is_home_key(self) -> bool:
        """Whether tokens and pseudonyms are keyed by the home's own key (``<home>/secret.key``), as no secret is
        set: a backup must carry that file, and every process serving the home must use the same home."""
        return self._secret_unset is not None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            zone(v)
        except FairtelError as exc:  # as a ValueError: the message names the setting (``_setting_error``)
            raise ValueError(exc.message) from None
        return v

    @field_validator("country")
    @classmethod
    def _known_country(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        code = v.strip().upper()
        if code not in COUNTRIES:
            raise ValueError(f"{v!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'CN', 'DE')")
        return code

    @property
    def home_country(self) -> str | None:
        """The operator's home country (ISO 3166-1 alpha-2): ``country`` (FAIRTEL_COUNTRY), else the country of
        ``timezone`` (Asia/Shanghai: CN, Europe/Berlin: DE); ``None`` when neither says (``UTC``). Passed as
        ``home_country`` to privacy's number finders, so that a number written as dialled at home is read as the
        home's E.164 number (its pseudonym the subscriber's)."""
        return self.country or country_of_timezone(self.timezone)

    def country_mismatch(self, catalog_country: str | None) -> str | None:
        """Why a catalog whose operator is at home in ``catalog_country`` (``Catalog.home_country``) may not be used
        with these settings, or None when both name one country (or the catalog names none): numbers in free text
        would be read by another numbering plan than the one the catalog's subscribers are numbered in."""
        home = self.home_country
        if catalog_country is None or home is None or catalog_country == home:
            return None
        return (f"the catalog's operator is at home in {catalog_country} but these settings' home country is {home} "
                f"(FAIRTEL_COUNTRY, else the country of FAIRTEL_TIMEZONE): numbers written as dialled at home would be "
                f"read by {home}'s numbering plan; set FAIRTEL_COUNTRY={catalog_country} or give the catalog "
                f"[operator] country = \"{home}\"")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str | None) -> str | None:
        """A URL fairtel can open: ``sqlite:///PATH`` or PostgreSQL through psycopg 3. The libpq forms
        ``postgres://`` and ``postgresql://`` are read as ``postgresql+psycopg://`` (the driver installed)."""
        if v is None or not v.strip():
            return None
        url = v.strip()
        scheme, sep, rest = url.partition("://")
        if not sep or not rest:
            raise ValueError(f"{_redact_url(url)!r} is not a database URL; give sqlite:///PATH or "
                             "postgresql+psycopg://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        scheme = scheme.lower()
        if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
            return f"postgresql+psycopg://{rest}"
        if scheme in ("sqlite", "sqlite+pysqlite"):
            return url
        raise ValueError(f"{scheme}:// databases are not supported ({_redact_url(url)}); fairtel runs on SQLite "
                         "(sqlite:///PATH) or PostgreSQL (postgresql+psycopg://USER@HOST/DATABASE)")

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, v: str) -> str:
        code = v.strip().upper()
        try:
            minor_units(code)  # every amount billed in it must be representable as Money
        except FairtelError as exc:
            raise ValueError(exc.message) from None
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
        config = config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config is not None:
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
        """Outside development, a secret not set, left at its default, or empty, is refused. In development such
        settings use the home's own random key (``HomeSecret``), never the public default."""
        if self.environment is Environment.DEVELOPMENT or self._secret_unset is None:
            return
        # an empty or public key makes keyed pseudonyms and ids computable by anyone, like no key at all
        raise ConfigError(f"FAIRTEL_SECRET_KEY {self._secret_unset}; set a secret outside development "
                          f"(environment {self.environment.value})")


class HomeSecret(SecretStr):
    """The key of a home whose operator set no secret: random, made on first use and kept in ``<home>/secret.key``
    (owner only), so that every command and server process on the home keys pseudonyms and tokens alike, run after
    run, and two homes never share one. The file is made whole under another name and linked into place, so two
    processes making it at once end up using the same key (the one linked first). A backup carries it: restored
    without it, a home's pseudonyms, finding and case ids would all change."""

    def __init__(self, home: Path) -> None:
        super().__init__("")
        self.path = Path(home).absolute() / SECRET_FILE
        self._known: str | None = None

    def get_secret_value(self) -> str:
        if self._known is None:
            self._known = home_key(self.path)
        return self._known

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, HomeSecret):
            return self.path == other.path
        return isinstance(other, SecretStr) and SecretStr(self.get_secret_value()) == other

    def __hash__(self) -> int:
        return hash(self.get_secret_value())  # as SecretStr's: equal to a SecretStr of the same key, the same hash

    def __len__(self) -> int:
        return len(self.get_secret_value())

    def _display(self) -> str:
        return "**********"  # without reading (or making) the key


def home_key(path: Path) -> str:
    """The key kept at ``path`` (``<home>/secret.key``), made (random, 0600) when there is none yet."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    secure_home(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{SECRET_FILE}.", dir=path.parent)  # 0600 whatever the umask
    try:
        try:
            os.write(fd, (secrets.token_urlsafe(32) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # never replaces a key another process linked first: both use it
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    _fsync_dir(path.parent)
    return _read_key(path)


def _read_key(path: Path) -> str:
    with path.open("rb") as f:
        mode = os.fstat(f.fileno())
        text = f.read().decode("utf-8", errors="replace").strip()
    if mode.st_mode & 0o077 and mode.st_uid == os.geteuid():
        os.chmod(path, 0o600)
    if not text or text == DEFAULT_SECRET:
        raise ConfigError(f"{path}: the home's secret key file is empty or holds the public default; put back the "
                          "file from a backup (pseudonyms and tokens derive from it), or set FAIRTEL_SECRET_KEY",
                          details={"file": str(path)})
    return text


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_told: set[Path] = set()


def secure_home(home: Path) -> None:
    """Make the home owner-only (0700) when it is made, and tighten an existing one that other users may read or
    enter (it holds password hashes, transcripts, usage with numbers and IMEIs): once, saying so on stderr. A
    directory fairtel should not change (not its user's, shared with the sticky bit, the user's own home or ``/``)
    is left as it is, with a warning. Files inside a 0700 home are out of others' reach whatever their mode."""
    try:
        home.mkdir(parents=True, mode=HOME_MODE)
    except FileExistsError:
        pass
    else:
        os.chmod(home, HOME_MODE)  # mkdir's mode passes through the umask
        return
    info = home.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{home}: the home is not a directory", details={"home": str(home)})
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o077:
        return
    where = home.absolute()
    if where in _told:
        return
    _told.add(where)
    shared = (info.st_uid != os.geteuid() or mode & stat.S_ISVTX
              or where.resolve() in (Path("/"), Path.home().resolve()))
    if not shared:
        try:
            os.chmod(home, HOME_MODE)
        except OSError:
            shared = True
    if shared:
        print(f"fairtel: warning: the home {where} can be read by other users (mode {mode:04o}) and fairtel did not "
              "change it; it holds personal data: make it owner-only (chmod 700) or use another home",
              file=sys.stderr)
    else:
        print(f"fairtel: the home {where} could be read by other users (mode {mode:04o}); it is now owner-only "
              f"({HOME_MODE:04o})", file=sys.stderr)


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


DEFAULT_CONFIG = "fairtel.toml"


def config_path() -> Path:
    """The settings file: ``FAIRTEL_CONFIG`` (set and not empty), else ``fairtel.toml`` in the working directory."""
    return Path(os.environ.get("FAIRTEL_CONFIG") or DEFAULT_CONFIG)


def config_file() -> Path | None:
    """The settings file to read, or None when there is none: ``fairtel.toml`` in the working directory may be
    absent, a file named by ``FAIRTEL_CONFIG`` must exist (``ConfigError`` naming it): a mistyped path would
    otherwise run on the defaults (another database, clock, environment) without a word. ``FAIRTEL_CONFIG`` set
    to ``/dev/null`` (``os.devnull``) says: no settings file."""
    given = os.environ.get("FAIRTEL_CONFIG")
    if not given:
        default = Path(DEFAULT_CONFIG)
        return default if default.is_file() else None
    path = Path(given)
    if given == os.devnull:
        return None
    if not path.exists():
        raise ConfigError(f"FAIRTEL_CONFIG={given}: file not found (the settings file it names must exist; unset "
                          f"FAIRTEL_CONFIG to read ./{DEFAULT_CONFIG} when there is one, or set it to {os.devnull} "
                          "for no settings file)", details={"file": given})
    if not path.is_file():
        raise ConfigError(f"FAIRTEL_CONFIG={given}: not a file", details={"file": given})
    return path


def load_settings(**overrides: Any) -> Settings:
    given = {k: v for k, v in overrides.items() if v is not None}
    config = config_file()
    config_text, unknown = _config_problems(config)
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        problems = _sla_problems(exc, given)
        others = [e for e in exc.errors() if not _is_sla_error(e)]
        # each setting by where its value came from (argument, variable, the settings file's line), the message
        # without the value given (a URL may carry a password); a key that is no setting among them, so that one
        # reading tells every problem of the file
        text = (unknown + [str(p) for p in problems]
                + [_setting_error(e, given=given, config=config, config_text=config_text) for e in others])
        raise ConfigError("invalid settings: " + "; ".join(text), details={"problems": text}) from exc
    except Exception as exc:
        if isinstance(exc, SettingsError) and (problems := _env_json_problems()):
            text = [str(p) for p in problems]
            raise ConfigError("invalid settings: " + "; ".join(text), details={"problems": text}) from exc
        raise ConfigError(f"invalid settings: {exc}") from exc
    if unknown:
        raise ConfigError("invalid settings: " + "; ".join(unknown),
                          details={"problems": unknown, "file": str(config)})
    return settings


# Settings whose environment variable holds JSON (a table): pydantic-settings only says it could not parse one.
_JSON_SETTINGS = ("sla", "tax_rates", "retention", "spark_conf")


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


def _redact_url(url: str) -> str:
    """``url`` without the password its user part may carry, fit for a message."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    user, _, host = rest.partition("@")
    return f"{scheme}://{user.split(':', 1)[0]}:***@{host}" if ":" in user else url


def _config_problems(config: Path | None) -> tuple[str | None, list[str]]:
    """The settings file's text (None: no file), after refusing one that is not TOML, and each key it names that
    is no setting (a typo such as ``timezon`` would otherwise leave the setting at its default without a word),
    told with the file's other problems:
    ``ConfigError`` naming the file, line and key, with the setting it likely meant."""
    if config is None:
        return None, []
    import difflib
    import tomllib

    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config}: cannot read the settings file: {exc}", details={"file": str(config)}) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config}: not valid TOML: {exc}", details={"file": str(config)}) from None
    known = list(Settings.model_fields)
    problems: list[Problem] = []
    for key in document:
        if key.lower() in known:  # as the settings read it: in any case
            continue
        close = difflib.get_close_matches(key.lower().removeprefix("fairtel_"), known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else f"; the settings are: {', '.join(known)}"
        problems.append(Problem(str(config), _toml_line(text, (key,)), key, f"unknown setting{hint}"))
    return text, [str(p) for p in problems]


def _setting_error(error: Any, *, given: Mapping[str, Any] | None = None, config: Path | None = None,
                   config_text: str | None = None) -> str:
    """One of pydantic's errors as ``WHERE: why``, without the value given. WHERE is the source that set the
    value, highest first as the settings read them: a keyword argument (``settings argument NAME``), the
    ``FAIRTEL_NAME`` variable, the settings file's line (``fairtel.toml:3 [name]``); ``FAIRTEL_NAME`` when none
    holds it (a default)."""
    loc = [str(part) for part in error.get("loc", ())]
    msg = str(error.get("msg", "")).removeprefix("Value error, ")
    if not loc:
        return f"settings: {msg}"
    field = ".".join(loc)
    var = f"FAIRTEL_{loc[0].upper()}"
    name = var + ("." + ".".join(loc[1:]) if len(loc) > 1 else "")
    if given is not None and loc[0] in given:
        return f"settings argument {field}: {msg}"
    if any(k.upper() == var for k in os.environ):  # the variables' names match in any case
        return f"{name}: {msg}"
    if config is not None and config_text is not None:
        import tomllib

        document = tomllib.loads(config_text)
        key = next((k for k in document if k.lower() == loc[0]), None)
        if key is not None:
            return f"{Problem(str(config), _toml_line(config_text, (key, *loc[1:])), field, msg)}"
    return f"{name}: {msg}"
