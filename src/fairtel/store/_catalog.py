"""Catalog versions: every distinct catalog text ever loaded, kept verbatim so a bill can be explained
by the exact tariff that priced it. Loading a text again makes it current again without a new row.

A text that priced bills without being loaded (``fairtel bill --catalog FILE``) is kept too
(``catalog_version``), as a version never made current: its ``activated_at`` is ``NEVER_ACTIVATED``, which
``current_catalog`` passes over; loading it later makes it current like any other."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from fairtel.core.time import utc_now
from fairtel.store._report import dialect_insert
from fairtel.store._schema import CatalogVersion, table_of

# ``activated_at`` of a version stored without becoming current (the column is required): before any real instant
NEVER_ACTIVATED = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StoredCatalog:
    version_id: int
    sha256: str
    loaded_at: datetime  # first time this text was loaded
    activated_at: datetime  # last time it became the current catalog
    created: bool = False  # True when this call added the row


def catalog_sha256(toml_text: str) -> str:
    return hashlib.sha256(toml_text.encode("utf-8")).hexdigest()


def store_catalog(conn: Connection, toml_text: str, *, now: datetime | None = None) -> StoredCatalog:
    """Record ``toml_text`` as the current catalog. The text is not validated here: validate it with
    ``fairtel.catalog`` first.

    Idempotent under concurrency: two processes storing the same text at once both succeed with the same
    version (the insert does nothing when the other's row is there, PostgreSQL waiting for the other's
    transaction to end first). The insert comes before any read so that on SQLite it takes the write lock
    (waiting for the other writer) before this transaction has a snapshot that the other's commit would
    make stale; call it first in its transaction."""
    now = now or utc_now()
    sha = catalog_sha256(toml_text)
    t = table_of(CatalogVersion)
    inserted = conn.execute(
        dialect_insert(conn, t)
        .values(sha256=sha, toml_text=toml_text, loaded_at=now, activated_at=now)
        .on_conflict_do_nothing(index_elements=[t.c.sha256])
        .returning(t.c.version_id)
    ).scalar_one_or_none()
    if inserted is not None:
        return StoredCatalog(inserted, sha, now, now, created=True)
    row = conn.execute(select(t.c.version_id, t.c.loaded_at).where(t.c.sha256 == sha)).one()
    current = current_catalog(conn)
    if current is not None and current.version_id == row.version_id:
        return current
    conn.execute(update(t).where(t.c.version_id == row.version_id).values(activated_at=now))
    return StoredCatalog(row.version_id, sha, row.loaded_at, now)


def catalog_version(conn: Connection, toml_text: str, *, now: datetime | None = None) -> int:
    """The version id of ``toml_text``, stored if it is not yet, without making it current: the record of what
    priced a bill run given a catalog file. Idempotent under concurrency, as ``store_catalog``; call it first in
    its transaction."""
    sha = catalog_sha256(toml_text)
    t = table_of(CatalogVersion)
    inserted = conn.execute(
        dialect_insert(conn, t)
        .values(sha256=sha, toml_text=toml_text, loaded_at=now or utc_now(), activated_at=NEVER_ACTIVATED)
        .on_conflict_do_nothing(index_elements=[t.c.sha256])
        .returning(t.c.version_id)
    ).scalar_one_or_none()
    if inserted is not None:
        return int(inserted)
    return int(conn.execute(select(t.c.version_id).where(t.c.sha256 == sha)).scalar_one())


def current_catalog(conn: Connection) -> StoredCatalog | None:
    """The version loaded last (``store_catalog``); a version only stored by ``catalog_version`` never is."""
    t = table_of(CatalogVersion)
    row = conn.execute(
        select(t.c.version_id, t.c.sha256, t.c.loaded_at, t.c.activated_at)
        .where(t.c.activated_at > NEVER_ACTIVATED)
        .order_by(t.c.activated_at.desc(), t.c.version_id.desc())
        .limit(1)
    ).first()
    return None if row is None else StoredCatalog(row.version_id, row.sha256, row.loaded_at, row.activated_at)


def current_catalog_text(conn: Connection) -> str | None:
    current = current_catalog(conn)
    return None if current is None else catalog_text(conn, current.version_id)


def catalog_currency(conn: Connection) -> str | None:
    """The currency of the home's current catalog (as ``fairtel load`` stored it): the one rating charges, bills
    and refunds are in, and so the one the indicators report money in; None: no catalog loaded (or none that
    parses)."""
    import tomllib

    text = current_catalog_text(conn)
    if text is None:
        return None
    try:
        operator = tomllib.loads(text).get("operator")
    except tomllib.TOMLDecodeError:
        return None
    currency = operator.get("currency") if isinstance(operator, dict) else None
    return currency if isinstance(currency, str) and currency else None


def catalog_text(conn: Connection, version_id: int) -> str | None:
    t = table_of(CatalogVersion)
    return conn.scalar(select(t.c.toml_text).where(t.c.version_id == version_id))
