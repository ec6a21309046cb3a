"""One error root with stable codes.

Every failure a user or another system can see is a ``FairtelError`` with a ``code`` that never changes
meaning; the API maps codes to HTTP statuses in one place and the CLI prints ``code: message``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


class FairtelError(Exception):
    """Root of every error fairtel raises on purpose."""

    code: ClassVar[str] = "fairtel_error"

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **({"details": self.details} if self.details else {})}


class ConfigError(FairtelError):
    code = "config_invalid"


class NotFoundError(FairtelError):
    code = "not_found"


class NotAvailableError(FairtelError):
    """A command or feature whose implementation has not landed yet."""

    code = "not_available"


class CurrencyMismatchError(FairtelError):
    code = "currency_mismatch"


class ConflictError(FairtelError):
    code = "conflict"


class PermissionDeniedError(FairtelError):
    code = "permission_denied"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in an input file: where it is and what is wrong."""

    file: str
    line: int | None
    field: str | None
    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f" [{self.field}]" if self.field else ""
        return f"{where}{what}: {self.message}"


class InvalidInputError(FairtelError):
    """Input that failed validation; carries every problem found, not only the first."""

    code = "input_invalid"

    def __init__(self, problems: Iterable[Problem], *, what: str = "input") -> None:
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(f"{what}: {n} problem{'s' if n != 1 else ''}", details={"problems": [str(p) for p in self.problems]})

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  {p}" for p in self.problems)])

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON: ``details.problems`` stays the text of each problem, and ``details.problem_details``
        gives each one as an object with its machine-readable ``code`` (and file, line, field, message)."""
        out = super().to_dict()
        if self.problems:
            out["details"] = {**out.get("details", {}), "problem_details": [
                {"file": p.file, "line": p.line, "field": p.field, "message": p.message, "code": p.code}
                for p in self.problems]}
        return out


class CatalogError(InvalidInputError):
    code = "catalog_invalid"


class CatalogMissingError(FairtelError):
    """No tariff catalog stored in the home and none given, outside development: rating, billing, the API's offers,
    orders and the assistant's prices refuse rather than use the demo operator's catalog."""

    code = "catalog_missing"


class EngineFailedError(FairtelError):
    """The rating engine's cluster failed a job (its own error, not fairtel's): the first line of what it said."""

    code = "engine_failed"


class DatabaseUnavailableError(FairtelError):
    """The database could not be reached, or the connection to it was lost (a restart, a network fault). The
    message names the database (backend, user, host, port, name), never its password."""

    code = "database_unavailable"


class InboxUnwritableError(FairtelError):
    """A watch's inbox (or its ``done/`` or ``failed/``) that fairtel cannot write: files could be ingested and
    rated but never moved out, so every restart would take them again. Refused before any file is taken."""

    code = "inbox_unwritable"


class InboxFileGoneError(FairtelError):
    """A file left the inbox while a watch handled it (another process took or removed it)."""

    code = "inbox_file_gone"


class HomeMismatchError(FairtelError):
    """The database serves another home than this one: a mistyped or unmounted home would take again the files
    the other home's ledger knows, and charge them twice."""

    code = "home_mismatch"


class FileSystemError(FairtelError):
    """A file or directory fairtel could not read or write (a read-only or full file system, missing rights):
    the message names the path and what was being done."""

    code = "file_system_error"
