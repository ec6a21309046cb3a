"""What the API and the console share for the life of a server: stores, keys, catalog, assistant, limits."""

from __future__ import annotations

import ipaddress
import logging
import os
import stat
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fairtel.api._access import Access, LoginAudit, Pseudonyms
from fairtel.api._auditlog import AuditLog
from fairtel.api._bills import IssuedBills
from fairtel.api._errors import NotAuthenticatedError, RateLimitedError
from fairtel.api._security import Claims, Principal, TokenSigner
from fairtel.api._users import active_user, line_changed_hands, principal_for_api_key, revoke_token, revoked_token_ids
from fairtel.bootstrap import App
from fairtel.care import SlaPolicy, sla_policy
from fairtel.catalog import Catalog, default_catalog_path, load_catalog, parse_catalog
from fairtel.core.errors import CatalogMissingError, ConfigError
from fairtel.core.settings import Environment, Settings
from fairtel.core.time import utc_now
from fairtel.store import catalog_text, current_catalog
from fairtel.store._engine import writer

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

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
    max_in_flight: int = 8  # requests under way at once per login (or API key's login): more are answered 429 at once


@dataclass(frozen=True, slots=True)
class ChatReply:
    text: str
    intent: str | None = None
    language: str | None = None


class Assistant(Protocol):
    """What the API needs of the care assistant: an answer to one message from one subscriber."""

    def reply(self, message: str, *, msisdn: str, language: str | None) -> Any: ...


CARE_LOG_DIR = "care"  # the conversation log's directory under the home (``cli._care.CARE_DIR``)


LOAD_A_CATALOG = ("the operator loads one with `fairtel load DIR` (the operator's catalog.toml in DIR; `fairtel "
                  "catalog validate FILE` checks it first); the server uses it from the next request on")


class HomeCatalog:
    """The home's current catalog (the version ``fairtel load`` stored last), parsed
    once per version. Each use reads which version is current (one indexed row): a catalog loaded while the server
    runs is in force from the next request on, never the prices of the one the server started with.

    With none stored: in development the bundled demo catalog (as the command line); in test and production
    ``CatalogMissingError`` (``catalog_missing``), never the demo's offers and prices. A stored catalog that does
    not parse is ``ConfigError`` (``config_invalid``) in any environment, never the demo catalog in its place."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._kept: tuple[str, Catalog] | None = None  # (the current version's sha256, its catalog)
        self._demo: Catalog | None = None
        self._lock = threading.Lock()

    def stored(self, conn: Connection | None = None) -> Catalog | None:
        """The stored current catalog; None when the home has none."""
        if conn is None:
            with self.app.db.connect() as own:
                return self.stored(own)
        current = current_catalog(conn)
        if current is None:
            return None
        with self._lock:
            kept = self._kept
        if kept is not None and kept[0] == current.sha256:
            return kept[1]
        where = f"catalog version {current.version_id} (database)"
        catalog, problems = parse_catalog(catalog_text(conn, current.version_id) or "", file=where)
        if catalog is None:
            shown = "; ".join(str(p) for p in problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
            raise ConfigError(f"the home's current catalog, {where}, does not parse: {shown}; {LOAD_A_CATALOG}",
                              details={"catalog_version": current.version_id})
        with self._lock:
            self._kept = (current.sha256, catalog)
        return catalog

    def __call__(self, conn: Connection | None = None) -> Catalog:
        """The stored current catalog, else (development only) the demo catalog, else ``CatalogMissingError``."""
        catalog = self.stored(conn)
        if catalog is not None:
            return catalog
        env = self.app.settings.environment
        if env is not Environment.DEVELOPMENT:
            raise CatalogMissingError(
                f"no tariff catalog is loaded on this server: refused in the {env.value} environment rather than "
                f"answer with the bundled demo catalog's offers and prices; {LOAD_A_CATALOG}",
                details={"environment": env.value})
        if self._demo is None:
            self._demo = load_catalog(default_catalog_path())
        return self._demo


MODEL_CHECK_S = 2.0
"""How often at most a server looks at its home's intent model file again (``HomeAssistant``): a model made or
replaced while it runs is answered with from the first message after its next look."""


def find_assistant(settings: Settings, app: App | None = None) -> Assistant | None:
    """The care assistant over this home's data, once the home has a trained intent model
    (``fairtel assistant train``, or ``fairtel demo``); ``None`` until then, and chat says so. It answers from
    the home's current catalog (``HomeCatalog``): a home without one outside development is answered
    ``catalog_missing`` until one is loaded. The model is the file as it is now (a model that cannot be loaded is
    raised); a server follows the file instead (``HomeAssistant``)."""
    if app is None:
        return None
    return HomeAssistant(settings, app).load_now()


_Stamp = tuple[int, int, int, int]  # a model file's device, inode, size and modification time (ns)


def _stamp(path: Path) -> _Stamp | None:
    """What tells one model file from another, read without opening it; None when there is no file at ``path``."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


class HomeAssistant:
    """The care assistant of the home's intent model (``<home>/models/intents.joblib``) as the file is now, for the
    life of a server (each worker process has its own). ``current`` is asked when a request needs the assistant (a
    chat message, the console's assistant page); it looks at the file again at most every ``check_s`` seconds (one
    ``stat``, no read): a model made after the server started (``fairtel assistant train``, ``fairtel demo``) is
    loaded then, and answers from that message on, with no restart; a model replaced (trained again: the file is
    written whole, then renamed over the old one) is loaded once and classifies the next messages, the conversations
    under way kept; a model removed makes the assistant unavailable again. One request loads a model; the others keep
    the model in use meanwhile, or, with none yet, wait for that load rather than answer 503. A file that cannot be
    loaded (not an intent model, another version, a library missing) is said once in the server's log and not tried
    again until it changes; the model in use, if any, goes on answering."""

    def __init__(self, settings: Settings, app: App, *, check_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from fairtel.care._chat import MODEL_FILE

        self.path: Path = settings.models_dir / MODEL_FILE
        self.check_s = MODEL_CHECK_S if check_s is None else check_s
        self._clock = clock
        self._lock = threading.Lock()  # the state below
        self._loading = threading.Lock()  # one load at a time
        self._classify: Callable[[str], Any] | None = None  # the model in use, as the dialog asks it
        self._in_use: _Stamp | None = None  # the file that model was loaded from; None once it is gone
        self._refused: _Stamp | None = None  # the file that could not be loaded (said once)
        self._looked_at: float | None = None
        self._assistant = CurrentCatalogAssistant(
            lambda catalog: _care_assistant(settings, app, self._classify_now, catalog), HomeCatalog(app))

    def _classify_now(self, text: str) -> Any:
        classify = self._classify
        assert classify is not None, "the assistant is answered only once a model is loaded"
        return classify(text)

    def _serving(self) -> Assistant | None:
        return self._assistant if self._in_use is not None else None

    def load_now(self) -> Assistant | None:
        """Load the model file as it is now (when the server starts: its first message does not pay for it); None
        when there is none. A model that cannot be loaded is raised (``intent_model_invalid``)."""
        with self._lock:
            self._looked_at = self._clock()
        stamp = _stamp(self.path)
        if stamp is not None:
            with self._loading:
                self._load(stamp, strict=True)
        return self._serving()

    def current(self) -> Assistant | None:
        """The assistant of the model file as it was at the latest look (looking again when ``check_s`` has passed);
        None while the home has no model that loads."""
        now = self._clock()
        with self._lock:
            due = self._looked_at is None or now - self._looked_at >= self.check_s
            if due:
                self._looked_at = now
        if due:
            self._look()
        elif self._classify is None and self._loading.locked():
            with self._loading:  # the home's first model is being loaded for another request: answered with it
                pass
        return self._serving()

    def _look(self) -> None:
        stamp = _stamp(self.path)
        if stamp == self._in_use or (stamp is not None and stamp == self._refused):
            return
        if stamp is None:  # removed: not available until a model is there again
            with self._lock:
                gone, self._in_use, self._refused = self._in_use is not None, None, None
            if gone:
                log.warning("the assistant's intent model %s is gone: the chat answers 503 assistant_unavailable "
                            "until a model is there again (fairtel assistant train)", self.path)
            return
        if self._classify is None:
            self._loading.acquire()  # no model yet: wait for a load under way, then see whether it is this file
        elif not self._loading.acquire(blocking=False):
            return  # another request loads it: this one goes on with the model in use
        try:
            stamp = _stamp(self.path)  # again: it may have been loaded (or changed) while this request waited
            if stamp is not None and stamp != self._in_use and stamp != self._refused:
                self._load(stamp, strict=False)
        finally:
            self._loading.release()

    def _load(self, stamp: _Stamp, *, strict: bool) -> None:
        """Load the file ``stamp`` tells (the ``_loading`` lock held) and put it in use, warmed up."""
        import fairtel.care as care  # its ``load_intent_model`` as the package has it now (a test may stand in)
        from fairtel.care import IntentModel, classifier_of

        began = time.perf_counter()
        try:
            model = care.load_intent_model(self.path.parent, train_if_missing=False)
            # warm up now, not on a subscriber's message: the sentence encoder (embeddings extra) loads its
            # weights on first use (~1.5 s), and every first call pays its own set-up
            model.predict(["你好", "hello"])
        except Exception as exc:
            if strict:
                raise
            with self._lock:
                self._refused = stamp
            kept = ("the model loaded before goes on answering" if self._in_use is not None
                    else "the chat answers 503 assistant_unavailable")
            said = (str(exc).splitlines() or [""])[0][:300]
            log.warning("the assistant's intent model %s could not be loaded (%s: %s): %s until the file changes",
                        self.path, getattr(exc, "code", type(exc).__name__), said, kept)
            return
        classify = classifier_of(model) if isinstance(model, IntentModel) else model
        with self._lock:
            replaced = self._classify is not None
            self._classify, self._in_use, self._refused = classify, stamp, None
        if not strict:
            log.info("the assistant's intent model %s %s (loaded in %.1f s)", self.path,
                     "was replaced: the next messages are classified by the new one" if replaced
                     else "appeared: the chat is served from now on", time.perf_counter() - began)


def _care_assistant(settings: Settings, app: App, model: Any, catalog: Catalog) -> tuple[Assistant, Callable[[Catalog], None]]:
    """The care assistant over the home's data priced from ``catalog``, and how to price it from another. ``model``:
    the intent model, or what classifies a message (``HomeAssistant``: the model in use at each message)."""
    from fairtel.care import Assistant as CareAssistant
    from fairtel.care import ConversationLog
    from fairtel.privacy import Pseudonymizer
    from fairtel.store._care import HomeAdvisor, StoreCareData

    # one policy for the reply's promise and the deadline the store writes (settings ``sla``)
    sla = sla_policy(settings.sla)
    # what the assistant writes (a complaint, a roaming cap, a redemption) is audited under the line's pseudonym
    pseudonymize = Pseudonymizer(settings.secret_key.get_secret_value(), domain="msisdn")
    data = StoreCareData(app.db, settings.lake_dir, catalog, sla=sla, pseudonymize=pseudonymize,
                         tax_rates=settings.tax_rates)
    # every turn, whichever channel, goes to the log ``fairtel kpi`` reads (``<home>/care``, as the CLI's chat)
    log = ConversationLog(settings.home / CARE_LOG_DIR)
    assistant: Assistant = CareAssistant(model, data, log=log, sla=sla, home_country=settings.home_country)

    def use(new: Catalog) -> None:
        data.catalog, data.tz, data.currency = new, new.operator.timezone, new.operator.currency
        data.advisor = HomeAdvisor(data)  # its advice was priced under the catalog before

    return assistant, use


class CurrentCatalogAssistant:
    """The care assistant answering from the home's current catalog (``catalog``, a ``HomeCatalog``): built at
    the first message (``build``: the assistant priced from a catalog, and how to price it from another); when
    another catalog has been loaded since the last message, its data (plans, offers and their prices, plan
    advice, the operator's clock and currency) is priced from it before the reply, the conversations under way
    kept. Without a catalog (outside development) each message is answered ``catalog_missing``."""

    def __init__(self, build: Callable[[Catalog], tuple[Assistant, Callable[[Catalog], None]]],
                 catalog: Callable[[], Catalog]) -> None:
        self._build = build
        self._catalog = catalog
        self._built: tuple[Assistant, Callable[[Catalog], None], Catalog] | None = None
        self._lock = threading.Lock()

    def reply(self, message: str, *, msisdn: str, language: str | None) -> Any:
        catalog = self._catalog()
        with self._lock:
            if self._built is None:
                assistant, use = self._build(catalog)
                self._built = (assistant, use, catalog)
            assistant, use, priced = self._built
            if priced is not catalog:
                use(catalog)
                self._built = (assistant, use, catalog)
        return assistant.reply(message, msisdn=msisdn, language=language)


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

    def refund(self, key: str, cost: float = 1.0) -> None:
        """Give back what ``check`` took, when what was paid for turned out not to count (a login that succeeded)."""
        if self.per_second <= 0:
            return
        with self._lock:
            if key in self._buckets:
                tokens, last = self._buckets[key]
                self._buckets[key] = (min(float(self.burst), tokens + cost), last)


def client_key(host: str) -> str:
    """The rate-limit key of a client address. An IPv6 client holds a whole /64 (every address in it is
    theirs to use), so the /64 is the client; an IPv4 address mapped into IPv6 is that IPv4 address."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host.strip().lower()[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def login_name(username: str) -> str:
    """The user a login attempt counts against: one bucket for ``Alice``, ``alice`` and `` alice ``, so that
    spelling a name differently does not buy more guesses (whether or not the lookup tells them apart)."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


class Services:
    def __init__(self, app: App, *, options: ApiOptions, assistant: Assistant | None,
                 home_assistant: HomeAssistant | None = None) -> None:
        self.app = app
        self.settings = app.settings
        self.options = options
        self.sla: SlaPolicy = sla_policy(app.settings.sla)  # the deadlines complaints are opened and judged by
        secret = app.settings.secret_key.get_secret_value()
        # tokens are signed apart from the pseudonyms (``token_key``): replacing it ends every token, nothing else
        self.signer = TokenSigner(app.settings.token_signing_key(), ttl=options.token_ttl)
        self.pseudonyms = Pseudonyms(secret, home_country=app.settings.home_country)
        self._assistant = assistant
        self._home_assistant = home_assistant  # followed when no ``assistant`` is given
        self.bills = IssuedBills(options.bill_cache_size)
        self.audit_log = AuditLog(lambda: app.db)
        self.logins = LoginAudit(self.pseudonyms, connect=lambda: app.db.connect(), write=self.audit_log.write)
        self.limiter = RateLimiter(options.rate_per_second, options.rate_burst)
        self.login_limiter = RateLimiter(options.login_attempts_per_minute / 60.0, options.login_attempts_per_minute)
        self._users: dict[str, tuple[float, Principal | None]] = {}
        self._verified: dict[str, Claims] = {}  # token → its claims, once the signature was checked
        self._revoked: dict[str, datetime] = {}  # ids of tokens ended by a logout → when they expire anyway
        self.home_catalog = HomeCatalog(app)
        self._writer: tuple[Engine, Engine] | None = None  # (the home's engine, its ``writer``)
        self._lock = threading.Lock()

    @property
    def assistant(self) -> Assistant | None:
        """The assistant chat answers with: the one given, else the home's (``HomeAssistant``: its model file as
        it is now, looked at again at most every ``MODEL_CHECK_S``); None while there is none."""
        if self._assistant is None and self._home_assistant is not None:
            return self._home_assistant.current()
        return self._assistant

    # --- who is asking --------------------------------------------------------------------------------
    def principal_from_token(self, token: str) -> Principal:
        claims = self.signer.verify(token)
        cached = self._users.get(claims.username)
        if cached is None or time.monotonic() - cached[0] > self.options.user_cache_s:
            # the account and the tokens its user logged out of are read together: a logout in another server
            # process holds here from this read on, as a disabled account does
            with self.app.db.connect() as conn:
                user = active_user(conn, claims.username)
                revoked = revoked_token_ids(conn, claims.username)
            self._remember_revoked(revoked)
            cached = (time.monotonic(), user)
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

    def _check(self, claims: Claims, user: Principal | None) -> Principal:
        if claims.token_id in self._revoked:
            raise NotAuthenticatedError("this token was ended by logging out; log in again")
        if user is None or user.role is not claims.role or user.msisdn != claims.msisdn:
            raise NotAuthenticatedError("the account behind this token is disabled or changed; log in again")
        if user.before_holding:
            raise line_changed_hands()
        return user

    def revoke_token(self, token: str) -> None:
        """Log out: the token is refused from now on, by this process at once and by every other one from its
        next read of the account (within ``user_cache_s``), until it would have expired anyway."""
        claims = self.signer.verify(token)  # a forged or expired token has nothing to end
        with self.app.db.begin() as conn:
            revoke_token(conn, claims.token_id, username=claims.username, expires_at=claims.expires_at)
        self._remember_revoked({claims.token_id: claims.expires_at})
        self._verified.pop(token, None)

    def _remember_revoked(self, revoked: dict[str, datetime]) -> None:
        if len(self._revoked) >= 100_000:  # tokens past their expiry are refused for that already
            now = utc_now()
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
        self._revoked.update(revoked)

    def principal_from_api_key(self, key: str) -> Principal:
        with self.app.db.connect() as conn:
            return principal_for_api_key(conn, key)

    # --- logins ----------------------------------------------------------------------------------------
    def check_login(self, client: str, username: str) -> Callable[[], None]:
        """Count a login attempt against its client address and, apart, against the username (so neither many
        names from one address nor many addresses for one name get past the limit); before the password is
        checked, so that parallel guesses are counted too. Returns what to call when the login succeeded: a
        successful login gives its attempt back (people behind one address log in all day; guesses fail)."""
        by_address, by_user = f"login-ip:{client_key(client)}", f"login-user:{login_name(username)}"
        self.login_limiter.check(by_address)
        self.login_limiter.check(by_user)

        def succeeded() -> None:
            self.login_limiter.refund(by_address)
            self.login_limiter.refund(by_user)

        return succeeded

    def forget_user(self, username: str) -> None:
        self._users.pop(username, None)

    def new_access(self, principal: Principal, *, request_id: str | None = None) -> Access:
        """A request's ``Access``; its transaction opens on first use. End it with ``Access.end`` and commit
        ``Access.take_pending_audit()`` through ``audit_log`` (``access`` does both)."""
        return Access(principal=principal, pseudonyms=self.pseudonyms, begin=self._begin, request_id=request_id, bills=self.bills,
                      sla=self.sla, lake=self.app.lake, tz=self.settings.timezone)

    def _begin(self) -> AbstractContextManager[Connection]:
        """A request's transaction. It reads, then writes (its audit rows at least, a change often): on SQLite it
        takes the write lock when it begins (``store.writer``), so that requests at the same moment wait their
        turn rather than one failing at once when another committed between its read and its write."""
        db = self.app.db
        cached = self._writer
        if cached is None or cached[0] is not db:  # the first request, or a home whose engine was replaced
            cached = self._writer = (db, writer(db))
        return cached[1].begin()

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
        """The home's current catalog (``HomeCatalog``): a catalog loaded while the server runs is in force from
        the next request on; with none stored, the demo catalog in development, else ``catalog_missing``."""
        return self.home_catalog()

    def stored_catalog(self) -> Catalog | None:
        """The home's current catalog, or None when none is stored (never the demo catalog): for what only names
        entries of the catalog (plans, zones, offers) and can fall back on their ids."""
        if self.app.settings.environment is Environment.DEVELOPMENT:
            return self.home_catalog()
        return self.home_catalog.stored()
