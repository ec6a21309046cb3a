"""Wiring: settings → stores and services. The only place that knows which database and engine are used."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from fairtel.core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@dataclass
class App:
    """What a command or the API needs: settings, and the stores built from them on first use."""

    settings: Settings
    _closers: list = field(default_factory=list)

    @cached_property
    def db(self) -> Engine:
        from fairtel.store import connect

        engine = connect(self.settings.db_url)
        self._closers.append(engine.dispose)
        return engine

    def close(self) -> None:
        for c in reversed(self._closers):
            c()
        self._closers.clear()


def bootstrap(settings: Settings) -> App:
    settings.home.mkdir(parents=True, exist_ok=True)
    return App(settings=settings)
