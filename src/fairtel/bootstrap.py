"""Wiring: settings → stores and services. The only place that knows which database and engine are used."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from fairtel.core.errors import HomeMismatchError
from fairtel.core.settings import SECRET_FILE, HomeSecret, Settings, home_key, secure_home

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from fairtel.store import Lake
    from fairtel.store._migrate import HomeBound

HOME_ID_FILE = "home.id"  # the home's identity, which the database it serves records (``home_binding``)


@dataclass
class App:
    """What a command or the API needs: settings, and the stores built from them on first use.

    The stores are imported lazily so that a command that needs neither starts fast.
    """

    settings: Settings
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @cached_property
    def db(self) -> Engine:
        """The database engine, migrated to the package's schema on first use, and bound to this home
        (``check_home``): a database serving another home is refused."""
        from fairtel.store import connect, migrate

        engine = connect(self.settings.db_url, home=self.settings.home, lock_wait_s=self.settings.lock_wait_s)
        self._closers.append(engine.dispose)
        migrate(engine)
        check_home(engine, self.settings)
        return engine

    @cached_property
    def lake(self) -> Lake:
        from fairtel.store import Lake

        return Lake(self.settings.lake_dir)

    def close(self) -> None:
        for c in reversed(self._closers):
            c()
        self._closers.clear()
        self.__dict__.pop("db", None)

    def __enter__(self) -> App:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def bootstrap(settings: Settings) -> App:
    # every command that keys pseudonyms and ids by the secret goes through here, not only the server
    settings.check_secrets()
    # owner-only: made 0700, or tightened (once, said on stderr) when others may read it; a home not there yet whose
    # database serves another home is not made: ``App.db`` refuses it (a mistyped FAIRTEL_HOME or --home leaves no
    # directory behind)
    if Path(settings.home).exists() or not served_elsewhere(settings):
        secure_home(settings.home)
        check_secret_key(settings)
    return App(settings=settings)


def check_secret_key(settings: Settings) -> None:
    """Refuse a key that is not the one the home's pseudonyms, keyed ids and tokens were made with
    (``secret_key_mismatch``), by the fingerprint the home records of it (``privacy._key``): a home restored with
    another ``secret.key``, or run with another ``FAIRTEL_SECRET_KEY``, would change every pseudonym silently. A
    home with no fingerprint yet records the key's, except a ``FAIRTEL_SECRET_KEY`` other than the key in the home's
    own ``secret.key`` (a home from before fingerprints whose pseudonyms that file keyed, unless it ran with the
    variable: refused, ``fairtel privacy adopt-key`` chooses the variable's key on purpose). The home's own key is not
    made here: a home that has none yet records its fingerprint when the key is made (``_FingerprintedHomeSecret``),
    and one whose key file is gone while its fingerprint stays is refused (a new random key would change every
    pseudonym as surely). The refusal says which key to put back: the variable unset when the home's own
    ``secret.key`` is the recorded one, the variable set when the home has no ``secret.key`` (its backup's manifest
    says whether it had one)."""
    from fairtel.privacy import check_key, key_fingerprint, key_mismatch, recorded_fingerprint

    home = Path(settings.home)
    path = home.absolute() / SECRET_FILE
    recorded = recorded_fingerprint(home)
    if not settings.secret_is_home_key:
        given = settings.secret_key.get_secret_value()
        own = _own_key(path)
        if recorded is None and own is not None and own != given:
            raise _unrecorded_mismatch(home, path, given=key_fingerprint(given), own=key_fingerprint(own))
        restore = ("Set the FAIRTEL_SECRET_KEY the home ran with (from the vault it is kept in)"
                   if own is None or recorded is None or key_fingerprint(own) != recorded else
                   f"Unset FAIRTEL_SECRET_KEY: the home's own key, {path}, is the recorded one")
        check_key(home, given, source="FAIRTEL_SECRET_KEY", restore=restore)
        return
    if path.is_file():
        check_key(home, settings.secret_key.get_secret_value(), source=str(path), restore=_RESTORE_KEY)
        return
    if recorded is not None:
        raise key_mismatch(home, source=str(path), restore=_missing_key_advice(home), given=None, recorded=recorded)
    settings.__dict__["secret_key"] = _FingerprintedHomeSecret(home)  # as the settings put a HomeSecret there


_RESTORE_KEY = "Restore the home's secret.key from its backup (the one `fairtel backup --verify` says matches)"


def _own_key(path: Path) -> str | None:
    """The key in the home's ``secret.key`` (read only, never made), None when there is none or it holds no key."""
    from fairtel.core.settings import DEFAULT_SECRET

    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return text if text and text != DEFAULT_SECRET else None


def _missing_key_advice(home: Path) -> str:
    """What to put back when the home has a fingerprint and no ``secret.key``: the ``FAIRTEL_SECRET_KEY`` it ran
    with when the manifest of the backup it was restored from says the home had no ``secret.key``, else either."""
    import json

    manifest = home / "fairtel-backup.json"  # a restored home holds its backup's manifest (cli/_backup.py MANIFEST)
    had_file: object = None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        had_file = json.loads(manifest.read_text(encoding="utf-8")).get("secret_key")
    if had_file is False:
        return ("The home ran with FAIRTEL_SECRET_KEY, not a secret.key of its own (its backup's manifest, "
                f"{manifest.absolute()}, records none): set the FAIRTEL_SECRET_KEY it ran with (from the vault it is "
                "kept in)")
    return ("If the home ran with FAIRTEL_SECRET_KEY, set the one it ran with (from the vault it is kept in); if it "
            "had its own secret.key, restore it from the home's backup (the one `fairtel backup --verify` says matches)")


def _unrecorded_mismatch(home: Path, path: Path, *, given: str, own: str) -> Exception:
    """The refusal of a ``FAIRTEL_SECRET_KEY`` other than the key in the home's ``secret.key``, the home recording no
    fingerprint yet (made before fingerprints): which of the two keyed its pseudonyms is not known here."""
    from fairtel.privacy import SecretKeyMismatchError, fingerprint_file, short_fingerprint

    return SecretKeyMismatchError(
        f"FAIRTEL_SECRET_KEY (fingerprint {short_fingerprint(given)}) is not the key in the home's own {path} "
        f"(fingerprint {short_fingerprint(own)}), and the home records no fingerprint of its key yet (it was made "
        "before fingerprints): its pseudonyms, keyed ids and tokens were made with its secret.key unless it ran with "
        "this FAIRTEL_SECRET_KEY. Nothing is recorded. If the home ran on its secret.key, unset FAIRTEL_SECRET_KEY; if "
        "it ran with FAIRTEL_SECRET_KEY, choose that key on purpose with `fairtel privacy adopt-key` (run with it set)",
        details={"file": str(fingerprint_file(home)), "key": "FAIRTEL_SECRET_KEY", "home_key": str(path),
                 "fingerprint": short_fingerprint(given), "home_key_fingerprint": short_fingerprint(own),
                 "recorded_fingerprint": None})


class _FingerprintedHomeSecret(HomeSecret):
    """The home's own key, its fingerprint recorded (or checked) when it is first read, which makes it."""

    def get_secret_value(self) -> str:
        if self._known is None:
            from fairtel.privacy import check_key

            key = home_key(self.path)
            check_key(self.path.parent, key, source=str(self.path), restore=_RESTORE_KEY)
            self._known = key
        return self._known


def is_home(home: Path) -> bool:
    """Whether ``home`` is a fairtel home already: it has an id (``home.id``), a database (``fairtel.db``), a key or
    a key's fingerprint."""
    from fairtel.privacy import KEY_FINGERPRINT_FILE

    home = Path(home)
    return home.is_dir() and any((home / name).is_file() for name in
                                 (HOME_ID_FILE, "fairtel.db", SECRET_FILE, KEY_FINGERPRINT_FILE))


def adopt_secret_key(settings: Settings, audit: Callable[[App, Connection, str | None, str], None]) -> tuple[str | None, str]:
    """Key the home by the key the settings give on purpose (``fairtel privacy adopt-key``): the home's own key made
    when its file is gone, and the fingerprint recorded again. Every pseudonym, keyed id and token changes with it.
    ``audit`` writes the change's access-audit row (given the app, the transaction, the fingerprints before and
    after) in the transaction the fingerprint is recorded in: the database opened and the row written first, the
    fingerprint recorded last, and put back as it was when the transaction does not commit, so the key never
    changes without its row. Nothing is written when the key is the recorded one already. Returns the fingerprint
    recorded before (None: none was) and the one recorded now."""
    from fairtel.privacy import key_fingerprint, put_fingerprint, record_fingerprint, recorded_fingerprint

    home = Path(settings.home)
    secure_home(home)
    before = recorded_fingerprint(home)
    key = home_key(home.absolute() / SECRET_FILE) if settings.secret_is_home_key else settings.secret_key.get_secret_value()
    after = key_fingerprint(key)
    if before == after:
        return before, after
    with App(settings=settings) as fapp:  # not ``bootstrap``: it refuses the key this adopts
        try:
            with fapp.db.begin() as conn:
                audit(fapp, conn, before, after)
                record_fingerprint(home, key, replace=True)
        except BaseException:
            if recorded_fingerprint(home) != before:
                put_fingerprint(home, before)
            raise
    return before, after


def served_elsewhere(settings: Settings) -> bool:
    """Whether the database of a home not there yet serves another home already (``check_home`` refuses the home
    then). Only reads: a database in the home (new with it), or one outside it that is not there, has no tables
    yet or cannot be reached now, is False here (the first use of ``App.db`` decides, as always)."""
    from sqlalchemy.exc import SQLAlchemyError

    from fairtel.core.errors import DatabaseUnavailableError
    from fairtel.store import connect
    from fairtel.store._engine import sqlite_file
    from fairtel.store._migrate import bound_home

    home = Path(settings.home).absolute()
    url = settings.db_url
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is None or home in path.parents or not path.is_file():
            return False  # the home's own database (new with it), one in memory, or none yet: nothing bound
    engine = connect(url, home=home, lock_wait_s=settings.lock_wait_s)
    try:
        return bound_home(engine) is not None
    except (SQLAlchemyError, DatabaseUnavailableError):
        return False
    finally:
        engine.dispose()


def home_id(home: Path) -> str | None:
    """The id kept in the home (``<home>/home.id``), None when it has none (a new home, or one from before ids)."""
    try:
        text = (Path(home) / HOME_ID_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def _make_home_id(home: Path) -> str:
    """The home's id, made (random) when it has none: written whole under another name and linked into place, so
    two processes making it at once both use the one linked first."""
    path = Path(home) / HOME_ID_FILE
    secure_home(Path(home))  # made, owner-only, when it is not there yet
    fd, tmp = tempfile.mkstemp(prefix=f".{HOME_ID_FILE}.", dir=home)
    try:
        try:
            os.write(fd, (uuid.uuid4().hex + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    made = home_id(home)
    assert made is not None, path
    return made


def check_home(engine: Engine, settings: Settings) -> None:
    """Bind the database to this home, or refuse a home that is not the one it serves (``HomeMismatchError``).

    The ledger of the files and records already taken is the home's (``mediation/state.sqlite``): a mistyped or
    unmounted home, new and empty, on a populated database would ingest and charge again what the real home billed,
    and two homes on one database would split and double the files. So a home gets an id (``home.id``) and the
    database records the id of the home it serves (``home_binding``), binding itself to the first home that opens
    it (a new database, or one from before the binding); after that only that home opens it, wherever it is
    mounted (the path and host are kept current), a restored backup of it included (it carries ``home.id``), unless
    the home it was copied from is still there on this host (a copy: refused, ``home adopt`` hands the database over).
    ``adopt_home`` moves a database to another home on purpose."""
    from fairtel.store._migrate import bind_home, bound_home

    home = Path(settings.home)
    own = home_id(home)
    found = bound_home(engine)
    if found is not None and found.home_id != own:  # refused before anything is written into the home
        raise _mismatch(engine, home, own, found)
    path, host = str(home.resolve()), socket.gethostname()
    if found is not None and (found.home_path, found.host) == (path, host):
        return  # bound to this home as it is: nothing to write
    if own is None:
        own = _make_home_id(home)
    found = bind_home(engine, home_id=own, home_path=path, host=host)
    if found.home_id != own:  # another home bound it meanwhile
        raise _mismatch(engine, home, own, found)


def adopt_home(settings: Settings) -> tuple[str, HomeBound | None]:
    """Bind the database to this home on purpose (a home moved to a new volume without its ``home.id``, or a
    database moved to another home): the binding replaced, whatever home it named. Returns this home's id and the
    binding before (None: the database served no home yet)."""
    from fairtel.store import connect, migrate
    from fairtel.store._migrate import bind_home, bound_home

    home = Path(settings.home)
    secure_home(home)
    engine = connect(settings.db_url, home=home, lock_wait_s=settings.lock_wait_s)
    try:
        migrate(engine)
        before = bound_home(engine)
        own = home_id(home) or _make_home_id(home)
        bind_home(engine, home_id=own, home_path=str(home.resolve()), host=socket.gethostname(), replace=True)
        return own, before
    finally:
        engine.dispose()


def _mismatch(engine: Engine, home: Path, own: str | None, found: HomeBound) -> HomeMismatchError:
    from fairtel.store._engine import describe

    where = home.resolve()
    this = (f"this home {where} has no home id: it is new or empty (is FAIRTEL_HOME or --home mistyped, or the "
            "home's volume not mounted?)" if own is None else
            f"this home {where} is the home {own}, bound to another database (is FAIRTEL_DATABASE_URL right?)")
    return HomeMismatchError(
        f"the database {describe(engine.url)} serves the home {found.home_id} at {found.home_path} (host "
        f"{found.host}, bound {found.bound_at:%Y-%m-%d %H:%M:%S}); {this}. The ledger of the files already taken is "
        "the home's, so files billed there would be taken and charged again from here. Use the home the database "
        "serves (FAIRTEL_HOME / --home), or restore that home from its backup; to move the database to this home "
        "on purpose, stop every process of the other home and run `fairtel home adopt` with this home",
        details={"database": describe(engine.url), "database_home_id": found.home_id,
                 "database_home_path": found.home_path, "home": str(where), "home_id": own})
