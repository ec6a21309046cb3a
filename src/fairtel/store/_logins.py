"""Login names: one login per name whatever its letter case. A name is compared by its key, its NFKC case fold
(``login_key``), and the database holds it with a unique index on ``lower(username)`` (migration 0024): for the
names a login may have (letters, digits and ``. _ @ -`` of ASCII) the two are the same."""

from __future__ import annotations

import unicodedata
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from fairtel.core.errors import ConflictError, FairtelError
from fairtel.store._schema import LOGIN_KEY_INDEX, User, table_of

__all__ = [
    "LOGIN_KEY_INDEX",
    "LoginNameClashError",
    "LoginNameTakenError",
    "login_key",
    "login_name_taken",
    "login_named",
    "refuse_login_clashes",
]


class LoginNameClashError(FairtelError):
    """Logins whose names differ only in letter case, met by the migration that makes names unique whatever their
    case (0024): which one is the person's is not for fairtel to guess, so it changes nothing and names them."""

    code = "login_name_clash"


class LoginNameTakenError(ConflictError):
    """A login written with a name another login has in other letter case: refused by the database's index on
    ``lower(username)``, whatever path wrote it, and raised in place of the driver's ``IntegrityError`` (``connect``)
    with the code of any name taken, ``conflict``."""


def login_name_taken(error: BaseException) -> LoginNameTakenError | None:
    """``error`` (a driver's integrity error) as ``LoginNameTakenError`` when the index on ``lower(username)``
    refused the row; None for any other."""
    if LOGIN_KEY_INDEX not in str(error):
        return None
    return LoginNameTakenError("a login with this name exists already, maybe written in other letter case: login "
                               "names are compared whatever their case (\"Alice\" and \"alice\" are one name)",
                               details={"field": "username"})


def login_key(name: str) -> str:
    """What a login's name is compared by: its NFKC case fold ("Alice", "ALICE" and a full-width "Ａｌｉｃｅ" are
    all "alice"), without white space around it (" alice " is "alice": a name pasted or typed with a space before or
    after it reaches its login; no login's name holds a space, and making one with any is refused)."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def login_named(conn: Connection, name: str) -> str | None:
    """The stored name of the login ``name`` names, whatever its letter case (read by the index on
    ``lower(username)``); None when there is none. At most one login has a key (migration 0024)."""
    key = login_key(name)
    if "\x00" in key or not key.isascii():  # no login's name holds one (PostgreSQL could not even compare a NUL)
        return None
    t = table_of(User)
    return conn.scalar(select(t.c.username).where(func.lower(t.c.username) == key))


def refuse_login_clashes(conn: Connection) -> None:
    """Raise ``LoginNameClashError`` naming every group of logins whose names differ only in letter case (as the
    database's ``lower`` compares them, the index's own expression), and the way out; do nothing when there is none."""
    t = table_of(User)
    folded = func.lower(t.c.username)
    clashing = select(folded).group_by(folded).having(func.count() > 1)
    rows = conn.execute(select(folded, t.c.username).where(folded.in_(clashing))).all()
    if not rows:
        return
    by_key: dict[str, list[str]] = defaultdict(list)
    for key, username in rows:
        by_key[key].append(username)
    # in code-point order, not the database's collation's: the same message on every engine
    groups = {key: sorted(by_key[key]) for key in sorted(by_key)}
    named = "; ".join(" and ".join(repr(n) for n in names) for names in groups.values())
    raise LoginNameClashError(
        f"the database holds logins whose names differ only in letter case: {named}. A login's name is now unique "
        "whatever its case, and which of these is the person's is not for fairtel to guess, so nothing was changed "
        "and this upgrade stops here. Keep one name of each group: remove each other login from the database (its "
        "rows in api_keys first, then its row in users) or give it a name of its own (UPDATE users SET username = "
        "... once it has no API key), then start again",
        details={"clashes": [list(names) for names in groups.values()]})
