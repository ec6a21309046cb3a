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
    from sqlalchemy.engine import Engine

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
    home with no fingerprint yet records the key's. The home's own key is not made here: a home that has none yet
    records its fingerprint when the key is made (``_FingerprintedHomeSecret``), and one whose key file is gone while
    its fingerprint stays is refused (a new random key would change every pseudonym as surely)."""
    from fairtel.privacy import check_key, key_mismatch, recorded_fingerprint

    home = Path(settings.home)
    if not settings.secret_is_home_key:
        check_key(home, settings.secret_key.get_secret_value(), source="FAIRTEL_SECRET_KEY",
                  restore="Set the FAIRTEL_SECRET_KEY the home ran with (from the vault it is kept in)")
        return
    path = home.absolute() / SECRET_FILE
    if path.is_file():
        check_key(home, settings.secret_key.get_secret_value(), source=str(path), restore=_RESTORE_KEY)
        return
    recorded = recorded_fingerprint(home)
    if recorded is not None:
        raise key_mismatch(home, source=str(path), restore=_RESTORE_KEY, given=None, recorded=recorded)
    settings.__dict__["secret_key"] = _FingerprintedHomeSecret(home)  # as the settings put a HomeSecret there


_RESTORE_KEY = "Restore the home's secret.key from its backup (the one `fairtel backup --verify` says matches)"


class _FingerprintedHomeSecret(HomeSecret):
    """The home's own key, its fingerprint recorded (or checked) when it is first read, which makes it."""

    def get_secret_value(self) -> str:
        if self._known is None:
            from fairtel.privacy import check_key

            key = home_key(self.path)
            check_key(self.path.parent, key, source=str(self.path), restore=_RESTORE_KEY)
            self._known = key
        return self._known


def adopt_secret_key(settings: Settings) -> tuple[str | None, str]:
    """Key the home by the key the settings give on purpose (``fairtel privacy adopt-key``): the home's own key made
    when its file is gone, and the fingerprint recorded again. Every pseudonym, keyed id and token changes with it.
    Returns the fingerprint recorded before (None: none was) and the one recorded now."""
    from fairtel.privacy import record_fingerprint, recorded_fingerprint

    home = Path(settings.home)
    secure_home(home)
    before = recorded_fingerprint(home)
    key = home_key(home.absolute() / SECRET_FILE) if settings.secret_is_home_key else settings.secret_key.get_secret_value()
    return before, record_fingerprint(home, key, replace=True)


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
