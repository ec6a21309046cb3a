"""Wiring: settings → stores and services. The only place that knows which database and engine are used."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from fairtel.core.settings import Settings, secure_home

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from fairtel.store import Lake


@dataclass
class App:
    """What a command or the API needs: settings, and the stores built from them on first use.

    The stores are imported lazily so that a command that needs neither starts fast.
    """

    settings: Settings
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @cached_property
    def db(self) -> Engine:
        """The database engine, migrated to the package's schema on first use."""
        from fairtel.store import connect, migrate

        engine = connect(self.settings.db_url)
        self._closers.append(engine.dispose)
        migrate(engine)
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
    # owner-only: made 0700, or tightened (once, said on stderr) when others may read it
    secure_home(settings.home)
    return App(settings=settings)
