"""Group commit of the access audit, for requests that read no database rows of their own.

A request answered from memory still has its audit rows committed before it answers. One transaction per
request would cost a commit (a disk flush) each; here one writer thread commits the rows of every request
waiting at that moment in one transaction, and each request is told (a future) once its rows are durable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Engine

from fairtel.store import record_accesses

_Rows = Sequence[Mapping[str, Any]]
_Entry = tuple[_Rows, "Future[None]"]
_STOP: _Entry = ((), Future())
POOL_RETRIES = (0.5, 2.0, 5.0)
"""Pauses before the writer tries again when no connection was to be had from the pool in time (every one busy
with requests for the pool's whole timeout): rows are not dropped for a moment's crowd. A database that cannot
be reached at all is not waited for: those rows fail at once, as the requests that made them do."""


class AuditLog:
    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine  # called when first needed: the database is opened (and migrated) lazily
        self._queue: list[_Entry] = []
        self._ready = threading.Condition()
        self._writer: threading.Thread | None = None
        self.commits = 0
        self.rows_written = 0

    def submit(self, rows: _Rows) -> Future[None]:
        """Queue ``rows`` (made by ``fairtel.store.access_row``); the future completes once they are committed,
        or fails with the reason they could not be."""
        done: Future[None] = Future()
        with self._ready:
            self._queue.append((rows, done))
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="fairtel-audit-writer", daemon=True)
                self._writer.start()
            self._ready.notify()
        return done

    def write(self, rows: _Rows, *, timeout: float | None = 60.0) -> None:
        """``submit`` and wait."""
        if rows:
            self.submit(rows).result(timeout=timeout)

    def close(self) -> None:
        """Commit what is queued and stop the writer thread (a later ``submit`` starts another)."""
        with self._ready:
            writer, self._writer = self._writer, None
            if writer is None:
                return
            self._queue.append(_STOP)
            self._ready.notify()
        writer.join(timeout=60)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                batch, self._queue = self._queue, []
            stop = any(entry is _STOP for entry in batch)
            batch = [entry for entry in batch if entry is not _STOP]
            if batch:
                self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Entry]) -> None:
        try:
            self._commit_once(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
            else:  # one bad entry must not fail the others: each alone
                for entry in batch:
                    self._commit([entry])
            return
        self.commits += 1
        self.rows_written += sum(len(rows) for rows, _ in batch)
        for _, done in batch:
            done.set_result(None)

    def _commit_once(self, batch: list[_Entry]) -> None:
        rows = [r for entry_rows, _ in batch for r in entry_rows]
        for pause in (*POOL_RETRIES, None):
            try:
                with self._engine().begin() as conn:
                    record_accesses(conn, rows)
                return
            except exc.TimeoutError:  # the pool's: all its connections busy past its timeout
                if pause is None:
                    raise
                time.sleep(pause)
