"""``fairtel backup DEST``: a copy of the home that is itself a home, taken while nothing writes it.

A home's state is its database (SQLite ``fairtel.db`` by default, or PostgreSQL), the usage lake (``lake/``),
the mediation ledger of files and records already taken (``mediation/state.sqlite``: losing it would let a file
ingested again charge its records twice), the models, fraud notices, outbox, rejects and the catalog text it
holds, and the home's own key (``secret.key``, made when no ``FAIRTEL_SECRET_KEY`` is set: keyed pseudonyms,
finding and case ids and tokens derive from it). The backup takes them in one consistent state:

- it holds the home's mediation lock (no ingest, no watch meanwhile: one running refuses the backup, naming it)
  and every lock of the lake's rating, feature and billing runs (a run in progress refuses it), for the whole copy;
- every SQLite database of the home is copied with SQLite's online backup (a consistent snapshot, its write-ahead
  log included), every other file byte for byte, each flushed to disk;
- the copy is owner-only whatever the umask (directories 0700, files 0600): it holds what the home holds;
- the copy is written under ``DEST.partial`` and renamed to ``DEST`` at the end, so a backup that was cut short
  never looks whole; ``DEST/fairtel-backup.json`` says what it holds (the fairtel version, the schema revision,
  files and bytes, and every file with its size and SHA-256, ``contents``).

``fairtel backup --verify DEST`` checks a backup against its manifest before it is restored: a file missing, of
another size or content (a partial or damaged copy), or one the manifest does not name, is listed and the command
exits with status 2; a backup without the home's key (``secret.key``) or, with PostgreSQL, without its dump beside
it is warned of.

The copy holds every subscriber's data and, in a home without ``FAIRTEL_SECRET_KEY``, the key that reverses their
pseudonyms: the largest export the home makes. Each backup is recorded in the home's access audit (``home.backup``,
role ``cli``, no subject) before anything is copied, once the locks are held: who ran it (``--actor`` or the OS
user, always named), when, the destination and the host it is on, how many subscribers the copy holds and whether
it holds the key. The copy's database holds the row too (a PostgreSQL dump taken after it does). If it cannot be written, nothing is copied; a backup
that fails later keeps its row (part of the data may have been written before the partial copy was removed). A home
whose key is refused (``secret_key_mismatch``) is backed up all the same, without the row (it would be keyed by the
refused key) and said on stderr: the safety copy to take before ``fairtel privacy adopt-key``, which cannot be undone.
The manifest of a backup the home was restored from (``fairtel-backup.json`` at its top) is not copied: the new one
takes its place.

A PostgreSQL database is not in the copy: ``pg_dump`` takes it (the command is printed), while the writers are
still stopped. Restoring is putting the directory back as the home (or pointing ``--home`` at it) with the same
``FAIRTEL_SECRET_KEY`` when one is set (keyed pseudonyms and tokens derive from it); when none is, the copied
``secret.key`` is the key. The copy carries the home's id (``home.id``, named in the manifest too), which the
database records as the home it serves: the restored home opens it (a copy restored beside the home
still in use is refused: adopt it, or remove the old home), a new empty one is refused (``home_mismatch``).

``fairtel home adopt`` binds the database to the home on purpose (a deliberate move of the database to another
home, or a home put back without its ``home.id``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fairtel.cli._context import home_of
from fairtel.cli._ui import console, err_console, fail, print_json
from fairtel.core.errors import ConflictError, FairtelError, InvalidInputError, Problem

if TYPE_CHECKING:
    from fairtel.core.settings import Settings

MANIFEST = "fairtel-backup.json"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal")  # a SQLite database's side files: its backup carries them
_DIR_MODE, _FILE_MODE = 0o700, 0o600  # a backup holds the home's personal data (and its key): owner only


class BackupBusyError(ConflictError):
    code = "backup_refused_busy"


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


@contextlib.contextmanager
def _run_locks(lake: Path) -> Iterator[int]:
    """Every rating, feature and billing lock of the lake, taken without waiting: one held by a run refuses."""
    fds: list[int] = []
    try:
        for path in sorted(lake.glob("*/*.lock")) if lake.is_dir() else []:
            fd = os.open(path, os.O_RDWR)
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BackupBusyError(f"a run holds {path.relative_to(lake.parent)}: a rating, feature or bill run is "
                                      "in progress; back up when it has ended") from None
        yield len(fds)
    finally:
        for fd in fds:
            os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_sqlite(src: Path, dst: Path) -> None:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=60)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, whatever the source's mode
        finally:
            target.close()
    finally:
        source.close()
    _fsync(dst)


def _skipped(rel: Path) -> bool:
    """Lock files (held by their processes, made again on use), SQLite side files (in their database's copy) and
    what the backup writes itself: the manifest at the top (a home restored from a backup still holds the old one,
    which the new manifest would replace after listing it)."""
    return (rel.name.endswith((*_SKIPPED_SUFFIXES, ".lock")) or rel == Path("mediation", "lock")
            or rel == Path(MANIFEST))


def _schema_revision(url: str) -> str | None:
    from sqlalchemy import create_engine

    from fairtel.store import current_revision

    engine = create_engine(url, hide_parameters=True)  # no SQL parameters (numbers) in an error
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def dump_file(dest: Path) -> Path:
    """Where the PostgreSQL dump of the backup ``dest`` goes: beside it, named for it (``DEST.pgdump``), so the
    next backup's dump does not replace it and the home restored from ``dest`` does not carry it."""
    return dest.with_name(dest.name + ".pgdump")


def _database(settings: Any, dest: Path) -> dict[str, Any]:
    url = settings.db_url
    if url.startswith("sqlite"):
        return {"backend": "sqlite", "in_backup": True, "revision": None}
    import shlex

    from sqlalchemy.engine import make_url

    u = make_url(url)
    words = ["pg_dump", "--format=custom", f"--file={dump_file(dest)}", f"--host={u.host or 'localhost'}",
             f"--port={u.port or 5432}", *([f"--username={u.username}"] if u.username else []), u.database or ""]
    return {"backend": u.get_backend_name(), "in_backup": False, "revision": None,
            "dump_command": shlex.join(w for w in words if w)}


def _audit_backup(settings: Settings, home: Path, dest: Path, database: dict[str, Any], ctx: typer.Context | None) -> str | None:
    """The access-audit row of a backup about to be taken (the module says what it records). A home whose key is
    refused (``secret_key_mismatch``) is copied all the same, the safety copy to take before restoring another key
    or adopting one: no row is written then (it would be keyed by the refused key), and the refusal is returned for
    the command to say; None when the row is written."""
    from sqlalchemy import func, select

    from fairtel.bootstrap import bootstrap, home_id
    from fairtel.cli._audit import audit_change
    from fairtel.core.settings import SECRET_FILE
    from fairtel.privacy import SecretKeyMismatchError
    from fairtel.store import Subscriber
    from fairtel.store._schema import table_of

    try:
        fapp = bootstrap(settings)
        fapp.settings.secret_key.get_secret_value()  # a home without a secret has its key made now: the copy holds it
    except SecretKeyMismatchError as exc:
        return exc.message
    with fapp, fapp.db.begin() as conn:
        subscribers = conn.execute(select(func.count()).select_from(table_of(Subscriber))).scalar_one()
        key = ("the home's key (secret.key), which reverses the pseudonyms" if (home / SECRET_FILE).is_file()
               else "not the key (FAIRTEL_SECRET_KEY is set outside the home)")
        db = "the database" if database["in_backup"] else f"not the {database['backend']} database (pg_dump it)"
        audit_change(ctx, fapp, conn, action="home.backup", resource=f"home/{home_id(home) or home.name}",
                     reason=f"backup of the home {home} to {dest} on host {socket.gethostname()}: the data of "
                            f"{subscribers} subscriber{'' if subscribers == 1 else 's'}, {db}, the lake, {key}")
    return None


def backup_home(settings: Any, dest: Path, *, ctx: typer.Context | None = None) -> dict[str, Any]:
    """Copy ``settings.home`` to ``dest`` (which must not exist, or be an empty directory), as the module says,
    recorded in the home's access audit first (``ctx``: the command, naming who ran it)."""
    from fairtel import __version__
    from fairtel.bootstrap import home_id
    from fairtel.core.settings import SECRET_FILE
    from fairtel.mediation import LockedError, mediation_lock
    from fairtel.privacy import recorded_fingerprint

    home = Path(settings.home).resolve()
    dest = dest.resolve()
    if not home.is_dir():
        raise InvalidInputError([Problem(str(home), None, "--home", "no such home directory")], what="backup")
    if dest == home or home in dest.parents:
        raise InvalidInputError([Problem(str(dest), None, "DEST", "the backup cannot be inside the home it copies")],
                                what="backup")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInputError([Problem(str(dest), None, "DEST", "exists and is not an empty directory")], what="backup")
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)  # a backup cut short before: never whole, never used
    database = _database(settings, dest)
    files = sqlite_files = size = 0
    contents: list[dict[str, Any]] = []
    started = datetime.now(UTC)
    try:
        with mediation_lock(home, holder="a backup"), _run_locks(home / "lake") as locks:
            # before anything is copied: the copy holds the row (none when the home's key is refused)
            unaudited = _audit_backup(settings, home, dest, database, ctx)
            partial.mkdir(parents=True)
            os.chmod(partial, _DIR_MODE)  # before anything is copied into it
            for root, dirs, names in os.walk(home):
                dirs.sort()
                here = Path(root)
                rel_dir = here.relative_to(home)
                (partial / rel_dir).mkdir(parents=True, exist_ok=True)
                os.chmod(partial / rel_dir, _DIR_MODE)
                for name in sorted(names):
                    src = here / name
                    rel = rel_dir / name
                    if _skipped(rel) or not src.is_file() or src.is_symlink():
                        continue
                    dst = partial / rel
                    if _is_sqlite(src):
                        _copy_sqlite(src, dst)
                        sqlite_files += 1
                    else:
                        shutil.copy2(src, dst)
                        _fsync(dst)
                    os.chmod(dst, _FILE_MODE)  # not the source's mode, which an older umask may have opened
                    files += 1
                    n = dst.stat().st_size
                    size += n
                    contents.append({"path": rel.as_posix(), "bytes": n, "sha256": _sha256(dst)})
            if database["backend"] == "sqlite":
                database["revision"] = _schema_revision(f"sqlite:///{partial / 'fairtel.db'}") if (partial / "fairtel.db").is_file() else None
            else:
                database["revision"] = _schema_revision(settings.db_url)
            manifest = {"fairtel_version": __version__, "taken_at": started.isoformat(timespec="seconds"),
                        "home": str(home), "home_id": home_id(home), "database": {k: v for k, v in database.items() if k != "dump_command"},
                        "files": files, "sqlite_databases": sqlite_files, "bytes": size, "run_locks_held": locks,
                        "secret_key": (partial / SECRET_FILE).is_file(),
                        "secret_key_fingerprint": recorded_fingerprint(home), "contents": contents}
            (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            os.chmod(partial / MANIFEST, _FILE_MODE)
            _fsync(partial / MANIFEST)
            if dest.exists():
                dest.rmdir()
            partial.rename(dest)
            dir_fd = os.open(dest.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except LockedError as exc:
        raise BackupBusyError(f"{exc}: stop it (a watch stops on SIGTERM) and back up then") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    out = {"backup": str(dest), **{k: v for k, v in manifest.items() if k != "contents"}}
    if unaudited is not None:
        out["not_audited"] = unaudited
    if "dump_command" in database:
        out["database_dump"] = database["dump_command"]
    return out


def verify_backup(dest: Path, *, key: str | None = None) -> dict[str, Any]:
    """``dest`` checked against its manifest (``fairtel-backup.json``): each file named there present, of its size
    and SHA-256. Returns ``ok``, the files ``missing``, ``changed`` (size or content) and ``unexpected`` (on disk,
    not in the manifest), ``key`` (``_key_check``: whether the key the restored home would run with is the one its
    pseudonyms were made with; a mismatch makes the backup not ``ok``), and ``warnings`` (no ``secret.key``, no
    PostgreSQL dump beside it). ``key``: the ``FAIRTEL_SECRET_KEY`` the restored home will run with, if one is set
    (it wins over the backup's ``secret.key``). A directory without a manifest, or with one written before it listed
    the files, is refused (``InvalidInputError``)."""
    from fairtel.core.settings import SECRET_FILE
    from fairtel.privacy import recorded_fingerprint

    dest = dest.resolve()
    path = dest / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError([Problem(str(path), None, MANIFEST, "no manifest: not a backup `fairtel backup` "
                                         "finished (a partial copy?)")], what="backup") from None
    except (OSError, ValueError) as exc:
        raise InvalidInputError([Problem(str(path), None, MANIFEST, f"not readable: {exc}")], what="backup") from None
    listed = manifest.get("contents") if isinstance(manifest, dict) else None
    if not isinstance(listed, list):
        raise InvalidInputError([Problem(str(path), None, "contents", "the manifest lists no files (a backup taken by "
                                         "an earlier fairtel): it cannot be verified; take a new backup")], what="backup")
    missing: list[str] = []
    changed: list[dict[str, Any]] = []
    named: set[str] = set()
    for entry in listed:
        rel = str(entry.get("path", ""))
        named.add(rel)
        file = dest / rel
        if not file.is_file():
            missing.append(rel)
            continue
        n = file.stat().st_size
        if n != entry.get("bytes"):
            changed.append({"path": rel, "bytes": n, "expected_bytes": entry.get("bytes")})
        elif _sha256(file) != entry.get("sha256"):
            changed.append({"path": rel, "bytes": n, "expected_bytes": entry.get("bytes"), "sha256_differs": True})
    unexpected = sorted(rel for p in dest.rglob("*") if p.is_file() and (rel := p.relative_to(dest).as_posix()) not in
                        named and rel != MANIFEST and not _skipped(Path(rel)))
    warnings = []
    if not (dest / SECRET_FILE).is_file():
        warnings.append(f"no {SECRET_FILE} in the backup: restore it with the FAIRTEL_SECRET_KEY the home ran with, or "
                        "the pseudonyms, keyed ids and tokens change (the audit written before is not found by number)")
    from fairtel.mediation._state import missing_lake_parts

    gone = missing_lake_parts(dest / "lake")  # the home was copied so: its ledger lists parts its lake lacked
    if gone:
        warnings.append("the backup's lake lacks usage parts its ledger lists (" + "; ".join(
            f"{period}: {len(parts)}" for period, parts in gone.items()) + "), lost from this copy or from the home before "
            "it was backed up: a home restored from it refuses to bill those periods (`lake_incomplete`)")
    database = manifest.get("database") or {}
    if database.get("in_backup") is False and not dump_file(dest).is_file():
        warnings.append(f"the {database.get('backend', 'PostgreSQL')} database is not in the backup and its dump "
                        f"{dump_file(dest)} is not beside it: restore the dump taken with this backup")
    checked = _key_check(dest, manifest, key)
    mismatched = checked is not None and not checked["matches"]
    unchecked = None
    if checked is None:
        unchecked = ("set FAIRTEL_SECRET_KEY to check it" if manifest.get("secret_key_fingerprint")
                     or recorded_fingerprint(dest) else "the backup records no fingerprint of its key")
        if unchecked.startswith("set"):
            warnings.append("key not checked: the backup holds no secret.key and FAIRTEL_SECRET_KEY is not set; set "
                            "it to the key the home ran with to check it")
    return {"backup": str(dest), "ok": not (missing or changed or unexpected or mismatched), "files": len(listed),
            "missing": missing, "changed": changed, "unexpected": unexpected, "key": checked,
            "key_checked": checked is not None, "key_not_checked": unchecked, "warnings": warnings,
            "home_id": manifest.get("home_id"), "taken_at": manifest.get("taken_at"),
            "fairtel_version": manifest.get("fairtel_version")}


def _key_check(dest: Path, manifest: dict[str, Any], key: str | None) -> dict[str, Any] | None:
    """Whether the key a home restored from ``dest`` would run with (``key``, the ``FAIRTEL_SECRET_KEY`` set, else
    the backup's ``secret.key``) is the one the backup's pseudonyms were made with, by the fingerprint the backup
    records (in its manifest, else in its ``secret.key.fingerprint``): ``key`` (where it came from), ``fingerprint``,
    ``backup_fingerprint`` and ``matches``. None when either is unknown (a backup from before fingerprints, or
    with no key in it and none set)."""
    from fairtel.core.settings import SECRET_FILE
    from fairtel.privacy import key_fingerprint, recorded_fingerprint, short_fingerprint

    recorded = manifest.get("secret_key_fingerprint") or recorded_fingerprint(dest)
    if not isinstance(recorded, str) or not recorded:
        return None
    source = "FAIRTEL_SECRET_KEY"
    if key is None:
        path = dest / SECRET_FILE
        try:
            key = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        source = str(path)
    given = key_fingerprint(key)
    return {"key": source, "fingerprint": short_fingerprint(given), "backup_fingerprint": short_fingerprint(recorded),
            "matches": given == recorded}


def register(app: typer.Typer) -> None:
    @app.command("backup")
    def backup_cmd(
        ctx: typer.Context,
        dest: Annotated[Path, typer.Argument(help="Directory to write the backup to (new, or empty).")],
        home: Annotated[Path | None, typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")] = None,
        verify: Annotated[bool, typer.Option("--verify", help="Check the backup DEST against its manifest (every "
                                                               "file, size and SHA-256) instead of writing one.")] = False,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Copy the home, consistently, to DEST: a directory that is itself a home (restore: verify it with
        --verify, then put it back as the home). Refused while an ingest, a watch or a rating/bill run writes the
        home. Recorded in the access audit (who, when, where to) before anything is copied."""
        from fairtel.core.settings import load_settings

        if verify:
            _verify_cmd(dest, as_json=as_json)
            return
        try:
            out = backup_home(load_settings(home=home_of(ctx, home)), dest, ctx=ctx)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if "not_audited" in out:
            err_console.print(f"warning: the home's key is refused, so this backup is not recorded in its access "
                              f"audit (a row keyed by the refused key would not join to the rest): {out['not_audited']}",
                              highlight=False, markup=False, soft_wrap=True)
        if as_json:
            print_json(out)
            return
        console.print(f"backup of {out['home']} in {out['backup']}: {out['files']} files, {out['bytes']:,} bytes "
                      f"({out['sqlite_databases']} SQLite database(s) by online backup); schema revision "
                      f"{out['database']['revision'] or 'none'}", highlight=False)
        if "database_dump" in out:
            # the command on a line of its own, never wrapped: a line copied from a wrapped one would run pg_dump
            # without its host or database; in a subshell under umask 077, as the dump holds every subscriber's data
            console.print(f"the {out['database']['backend']} database is not in it: dump it now, before the writers "
                          "start again, owner-only (umask 077: it holds every subscriber's data):", highlight=False)
            console.print(f"(umask 077 && {out['database_dump']})", soft_wrap=True, highlight=False, markup=False,
                          emoji=False)

    def _verify_cmd(dest: Path, *, as_json: bool) -> None:
        from fairtel.core.settings import load_settings

        try:
            # the key the restored home will run with: FAIRTEL_SECRET_KEY when one is set, else the backup's own
            settings = load_settings(home=dest)
            key = None if settings.secret_is_home_key else settings.secret_key.get_secret_value()
            out = verify_backup(dest, key=key)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(out)
        else:
            for rel in out["missing"]:
                console.print(f"missing: {rel}", highlight=False, markup=False, soft_wrap=True)
            for c in out["changed"]:
                console.print(f"changed: {c['path']} ({c['bytes']:,} bytes, {c['expected_bytes']:,} in the manifest"
                              f"{', other content' if c.get('sha256_differs') else ''})", highlight=False, markup=False,
                              soft_wrap=True)
            for rel in out["unexpected"]:
                console.print(f"not in the manifest: {rel}", highlight=False, markup=False, soft_wrap=True)
            k = out["key"]
            if k is not None and not k["matches"]:
                console.print(f"key mismatch: the key in {k['key']} (fingerprint {k['fingerprint']}) is not the one the "
                              f"backup's pseudonyms were made with (fingerprint {k['backup_fingerprint']}): restored with "
                              "it, the home is refused (secret_key_mismatch); restore the secret.key taken with this "
                              "backup, or set the FAIRTEL_SECRET_KEY the home ran with", highlight=False, markup=False,
                              soft_wrap=True)
            for w in out["warnings"]:
                console.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)
            bad = len(out["missing"]) + len(out["changed"]) + len(out["unexpected"])
            console.print(f"backup {out['backup']} (home {out['home_id']}, taken {out['taken_at']}): "
                          + (f"{out['files']} files as the manifest lists them: fit to restore"
                             + ("" if out["key_checked"] else f" (key not checked: {out['key_not_checked']})")
                             if out["ok"] else
                             f"{bad} of its files differ from the manifest: do not restore it (take another "
                             "copy of the backup, or another backup) / 备份与清单不符，请勿用于恢复" if bad else
                             "its key is not the one its pseudonyms were made with: do not restore it with this key "
                             "/ 密钥与备份不符"),
                          highlight=False, soft_wrap=True)
        if not out["ok"]:
            raise typer.Exit(2)

    home_app = typer.Typer(help="The home and the database it is bound to.", no_args_is_help=True)
    app.add_typer(home_app, name="home")

    @home_app.command("adopt")
    def adopt_cmd(
        ctx: typer.Context,
        home: Annotated[Path | None, typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Bind the database to this home on purpose, replacing the home it served: for a database moved to another
        home, or a home put back without its home.id. Stop every process of the other home first: its ledger of
        files already taken does not come along, so a file it took and this home takes again is charged twice."""
        from fairtel.bootstrap import adopt_home
        from fairtel.core.settings import load_settings
        from fairtel.store._engine import describe

        try:
            settings = load_settings(home=home_of(ctx, home))
            settings.check_secrets()
            own, before = adopt_home(settings)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        where = str(Path(settings.home).resolve())
        out = {"database": describe(settings.db_url), "home": where, "home_id": own,
               "before": None if before is None else {"home_id": before.home_id, "home_path": before.home_path,
                                                      "host": before.host}}
        if as_json:
            print_json(out)
            return
        was = ("served no home before" if before is None else
               "served it already" if before.home_id == own else
               f"served the home {before.home_id} at {before.home_path} (host {before.host}) before")
        console.print(f"the database {out['database']} now serves the home {own} at {where}; it {was}",
                      highlight=False, soft_wrap=True)
