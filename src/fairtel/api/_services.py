"""What the API and the console share for the life of a server: stores, keys, catalog, assistant, limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from fairtel.api._access import Access, Pseudonyms
from fairtel.api._errors import NotAuthenticatedError, RateLimitedError
from fairtel.api._security import Principal, TokenSigner
from fairtel.api._users import active_user, principal_for_api_key
from fairtel.bootstrap import App
from fairtel.catalog import Catalog, default_catalog_path, load_catalog, parse_catalog
from fairtel.core.settings import Settings
from fairtel.store import current_catalog, current_catalog_text


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """Limits of one server. Requests per second per client (IP, or the caller once known), with bursts."""

    token_ttl: timedelta = timedelta(hours=8)
    rate_per_second: float = 50.0
    rate_burst: int = 200
    login_attempts_per_minute: int = 10
    max_body_bytes: int = 64 * 1024
    user_cache_s: float = 10.0


@dataclass(frozen=True, slots=True)
class ChatReply:
    text: str
    intent: str | None = None
    language: str | None = None


class Assistant(Protocol):
    """What the API needs of the care assistant: an answer to one message from one subscriber."""

    def reply(self, message: str, *, msisdn: str, language: str | None) -> Any: ...


def find_assistant(settings: Settings, app: App | None = None) -> Assistant | None:
    """The care assistant over this home's data, once the home has a trained intent model
    (``fairtel assistant train``, or ``fairtel demo``); ``None`` until then, and chat says so."""
    from fairtel.care import Assistant as CareAssistant
    from fairtel.care import load_intent_model

    if app is None or not (settings.models_dir / "intents.joblib").is_file():
        return None
    from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
    from fairtel.store import current_catalog_text
    from fairtel.store._care import StoreCareData

    with app.db.connect() as conn:
        text = current_catalog_text(conn)
    catalog = parse_catalog(text)[0] if text else None
    catalog = catalog or load_catalog(default_catalog_path())
    model = load_intent_model(settings.models_dir, train_if_missing=False)
    assistant: Assistant = CareAssistant(model, StoreCareData(app.db, settings.lake_dir, catalog))
    return assistant


class RateLimiter:
    """Token buckets per key, in memory (one server process)."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second, self.burst = per_second, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, cost: float = 1.0) -> None:
        if self.per_second <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                wait = max(1, int((cost - tokens) / self.per_second + 0.999))
                raise RateLimitedError("too many requests; slow down", details={"retry_after_s": wait})
            self._buckets[key] = (tokens - cost, now)
            if len(self._buckets) > 100_000:  # forget idle clients
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}


class Services:
    def __init__(self, app: App, *, options: ApiOptions, assistant: Assistant | None) -> None:
        self.app = app
        self.settings = app.settings
        self.options = options
        secret = app.settings.secret_key.get_secret_value()
        self.signer = TokenSigner(secret, ttl=options.token_ttl)
        self.pseudonyms = Pseudonyms(secret)
        self.assistant = assistant
        self.limiter = RateLimiter(options.rate_per_second, options.rate_burst)
        self.login_limiter = RateLimiter(options.login_attempts_per_minute / 60.0, options.login_attempts_per_minute)
        self._users: dict[str, tuple[float, Principal | None]] = {}
        self._catalog: tuple[str, Catalog] | None = None
        self._lock = threading.Lock()

    # --- who is asking --------------------------------------------------------------------------------
    def principal_from_token(self, token: str) -> Principal:
        claims = self.signer.verify(token)
        now = time.monotonic()
        cached = self._users.get(claims.username)
        if cached is None or now - cached[0] > self.options.user_cache_s:
            with self.app.db.connect() as conn:
                cached = (now, active_user(conn, claims.username))
            self._users[claims.username] = cached
        user = cached[1]
        if user is None or user.role is not claims.role or user.msisdn != claims.msisdn:
            raise NotAuthenticatedError("the account behind this token is disabled or changed; log in again")
        return user

    def principal_from_api_key(self, key: str) -> Principal:
        with self.app.db.connect() as conn:
            return principal_for_api_key(conn, key)

    def forget_user(self, username: str) -> None:
        self._users.pop(username, None)

    @contextmanager
    def access(self, principal: Principal, *, request_id: str | None = None) -> Iterator[Access]:
        """One transaction: the reads or changes of a request and their audit rows commit together."""
        with self.app.db.begin() as conn:
            yield Access(principal=principal, conn=conn, pseudonyms=self.pseudonyms, request_id=request_id)

    # --- the catalog in force -------------------------------------------------------------------------
    def catalog(self) -> Catalog:
        """The database's current catalog (the package's demo catalog when none was loaded), cached by version."""
        with self.app.db.connect() as conn:
            current = current_catalog(conn)
            key = current.sha256 if current is not None else "default"
            with self._lock:
                if self._catalog is not None and self._catalog[0] == key:
                    return self._catalog[1]
            text = current_catalog_text(conn) if current is not None else None
        catalog: Catalog | None = None
        if text is not None:
            catalog, _problems = parse_catalog(text, file="catalog (database)")
        if catalog is None:
            catalog = load_catalog(default_catalog_path())
        with self._lock:
            self._catalog = (key, catalog)
        return catalog
