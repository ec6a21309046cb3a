"""What the API and the console share for the life of a server: stores, keys, catalog, assistant, limits."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from fairtel.api._access import Access, Pseudonyms
from fairtel.api._auditlog import AuditLog
from fairtel.api._bills import IssuedBills
from fairtel.api._errors import NotAuthenticatedError, RateLimitedError
from fairtel.api._security import Claims, Principal, TokenSigner
from fairtel.api._users import active_user, principal_for_api_key
from fairtel.bootstrap import App
from fairtel.catalog import Catalog, default_catalog_path, load_catalog, parse_catalog
from fairtel.core.settings import Settings
from fairtel.core.time import utc_now
from fairtel.store import current_catalog, current_catalog_text

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """Limits of one server. Requests per second per client (IP, or the caller once known), with bursts."""

    token_ttl: timedelta = timedelta(hours=8)
    rate_per_second: float = 50.0
    rate_burst: int = 200
    login_attempts_per_minute: int = 10
    max_body_bytes: int = 64 * 1024
    user_cache_s: float = 10.0
    bill_cache_size: int = 10_000


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
    # warm up now, not on a subscriber's first message: the sentence encoder (embeddings extra) loads its
    # weights on first use (~1.5 s), and every first call pays its own set-up
    model.predict(["你好", "hello"])
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
        self.bills = IssuedBills(options.bill_cache_size)
        self.audit_log = AuditLog(lambda: app.db)
        self.limiter = RateLimiter(options.rate_per_second, options.rate_burst)
        self.login_limiter = RateLimiter(options.login_attempts_per_minute / 60.0, options.login_attempts_per_minute)
        self._users: dict[str, tuple[float, Principal | None]] = {}
        self._verified: dict[str, Claims] = {}  # token → its claims, once the signature was checked
        self._catalog: tuple[str, Catalog] | None = None
        self._lock = threading.Lock()

    # --- who is asking --------------------------------------------------------------------------------
    def principal_from_token(self, token: str) -> Principal:
        claims = self.signer.verify(token)
        cached = self._users.get(claims.username)
        if cached is None or time.monotonic() - cached[0] > self.options.user_cache_s:
            with self.app.db.connect() as conn:
                cached = (time.monotonic(), active_user(conn, claims.username))
            self._users[claims.username] = cached
        return self._check(claims, cached[1])

    def cached_principal_from_token(self, token: str) -> Principal | None:
        """``principal_from_token`` when it needs no database read (the account was looked up lately); else None."""
        claims = self._verified.get(token)
        if claims is None or utc_now() >= claims.expires_at:
            claims = self.signer.verify(token)  # raises when forged or expired
            if len(self._verified) >= 10_000:
                self._verified.clear()
            self._verified[token] = claims
        cached = self._users.get(claims.username)
        if cached is None or time.monotonic() - cached[0] > self.options.user_cache_s:
            return None
        return self._check(claims, cached[1])

    @staticmethod
    def _check(claims: Claims, user: Principal | None) -> Principal:
        if user is None or user.role is not claims.role or user.msisdn != claims.msisdn:
            raise NotAuthenticatedError("the account behind this token is disabled or changed; log in again")
        return user

    def principal_from_api_key(self, key: str) -> Principal:
        with self.app.db.connect() as conn:
            return principal_for_api_key(conn, key)

    def forget_user(self, username: str) -> None:
        self._users.pop(username, None)

    def new_access(self, principal: Principal, *, request_id: str | None = None) -> Access:
        """A request's ``Access``; its transaction opens on first use. End it with ``Access.end`` and commit
        ``Access.take_pending_audit()`` through ``audit_log`` (``access`` does both)."""
        return Access(principal=principal, pseudonyms=self.pseudonyms, begin=self.app.db.begin, request_id=request_id, bills=self.bills)

    @contextmanager
    def access(self, principal: Principal, *, request_id: str | None = None) -> Iterator[Access]:
        """One request: its reads or changes and their audit rows commit together, before it answers.

        A request that needed no transaction (answered from memory) commits its audit rows through the
        group commit of ``audit_log``, also before it answers. On an error none of its changes is kept, but its
        audit rows are, marked failed, with a row for a refused subject (``Access.failure_audit``)."""
        acc = self.new_access(principal, request_id=request_id)
        try:
            yield acc
        except BaseException as exc:
            acc.end(exc)
            failed = acc.failure_audit(exc)
            if failed:
                try:
                    self.audit_log.write(failed)
                except Exception:
                    log.exception("the audit rows of a failed request could not be written")
            raise
        acc.end()
        self.audit_log.write(acc.take_pending_audit())

    def close(self) -> None:
        self.audit_log.close()

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
