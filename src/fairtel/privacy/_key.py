"""The fingerprint of the key a home's pseudonyms, keyed ids and tokens derive from, kept in the home
(``secret.key.fingerprint``), so that a home restored or run with another key is refused instead of changing every
pseudonym without a word.

The fingerprint is a keyed hash of a fixed label under the key (HMAC-SHA256), never the key nor a hash of the key
alone: it tells whether two keys are the same one, and nothing that helps find the key. It is recorded the first time
the home is run with a key (a home made before fingerprints gets its one so, silently, unless a ``FAIRTEL_SECRET_KEY``
other than the key in its own ``secret.key`` is set: ``bootstrap.check_secret_key`` refuses that) and checked every
time after.
Keying the home by another key on purpose is ``adopt``: the fingerprint recorded again, every pseudonym, finding and
case id changing with it.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import tempfile
from pathlib import Path

from fairtel.core.errors import FairtelError

KEY_FINGERPRINT_FILE = "secret.key.fingerprint"
_LABEL = b"fairtel/secret-key/fingerprint"  # no value pseudonymised is this label's bytes under this derivation
_SCHEME = "hmac-sha256"
SHOWN = 16  # hex characters of a fingerprint a message shows


class SecretKeyMismatchError(FairtelError):
    """The key given is not the one the home's pseudonyms, keyed ids and tokens were made with (or the home's key file
    is gone): run on, every pseudonym would change and no longer join to what was exported or audited before."""

    code = "secret_key_mismatch"


def key_fingerprint(key: str) -> str:
    """``hmac-sha256:<64 hex>``: the HMAC-SHA256 of a fixed label under ``key``. The same key, the same fingerprint."""
    return f"{_SCHEME}:{hmac.new(key.encode(), _LABEL, 'sha256').hexdigest()}"


def fingerprint_file(home: Path) -> Path:
    """``<home>/secret.key.fingerprint``, absolute (as messages name it)."""
    return Path(home).absolute() / KEY_FINGERPRINT_FILE


def recorded_fingerprint(home: Path) -> str | None:
    """The fingerprint recorded in ``home``, None when it has none (a new home, or one from before fingerprints)."""
    try:
        text = fingerprint_file(home).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def record_fingerprint(home: Path, key: str, *, replace: bool = False) -> str:
    """Record the fingerprint of ``key`` in ``home`` (owner-only, written whole under another name first) and return
    the fingerprint in force: without ``replace`` a fingerprint already there (another process recorded one first)
    is kept and returned."""
    found = put_fingerprint(home, key_fingerprint(key), replace=replace)
    assert found is not None, home
    return found


def put_fingerprint(home: Path, fingerprint: str | None, *, replace: bool = True) -> str | None:
    """Put ``fingerprint`` (as ``key_fingerprint`` made it) in ``home`` as ``record_fingerprint`` does; None removes
    the home's (a fingerprint put back as it was: none). Returns the fingerprint in force."""
    path = fingerprint_file(home)
    if fingerprint is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return None
    fd, tmp = tempfile.mkstemp(prefix=f".{KEY_FINGERPRINT_FILE}.", dir=home)  # 0600 whatever the umask
    try:
        try:
            os.write(fd, (fingerprint + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                if recorded_fingerprint(home) is None:  # an empty file (a copy cut short) records none
                    os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    found = recorded_fingerprint(home)
    assert found is not None, path
    return found


def check_key(home: Path, key: str, *, source: str, restore: str) -> None:
    """Refuse ``key`` (``SecretKeyMismatchError``) unless it is the key the home recorded the fingerprint of; a home
    with no fingerprint yet records this key's, silently. ``source``: where the key came from, as the message names
    it (``/srv/home/secret.key``, ``FAIRTEL_SECRET_KEY``); ``restore``: how to put the right key back."""
    recorded = recorded_fingerprint(home)
    if recorded is None:
        with contextlib.suppress(OSError):  # a home on a read-only volume is read as it is: checked once writable
            recorded = record_fingerprint(home, key)
        if recorded is None:
            return
    given = key_fingerprint(key)
    if hmac.compare_digest(recorded, given):
        return
    raise key_mismatch(home, source=source, restore=restore, given=given, recorded=recorded)


def key_mismatch(home: Path, *, source: str, restore: str, given: str | None, recorded: str) -> SecretKeyMismatchError:
    """The refusal of a home whose key is not the recorded one (``given``; None: the key, ``source``, is gone)."""
    path = fingerprint_file(home)
    made = (f"the key the home's pseudonyms, keyed ids and tokens were made with (fingerprint "
            f"{short_fingerprint(recorded)}, recorded in {path})")
    what = (f"{made} is missing: there is no {source}" if given is None else
            f"the key in {source} (fingerprint {short_fingerprint(given)}) is not {made}")
    return SecretKeyMismatchError(
        f"{what}. Run on, every pseudonym would change, no longer joining to earlier exports nor finding the "
        f"audit written before, and every finding and case id would differ. {restore}; or, to key the home by "
        "another key on purpose and accept that every pseudonym and keyed id changes, run `fairtel privacy adopt-key`",
        details={"file": str(path), "key": source, "fingerprint": None if given is None else short_fingerprint(given),
                 "recorded_fingerprint": short_fingerprint(recorded)})


def short_fingerprint(fingerprint: str) -> str:
    """The first hex characters of a fingerprint, as messages show it."""
    return fingerprint.removeprefix(f"{_SCHEME}:")[:SHOWN]
