"""Errors a reader raises for a whole file (a bad record is a ``Reject``, not an error)."""

from __future__ import annotations

from fairtel.core.errors import FairtelError, InvalidInputError


class UnreadableFileError(FairtelError):
    """The file as a whole cannot be read: binary garbage, no header, a broken container. Nothing of it is
    accepted; the file is left intact (``watch`` moves it to failed/) so it can be fixed and fed again."""

    code = "file_unreadable"


class AuditMismatchError(UnreadableFileError):
    """A batch whose own control totals disagree with its records (a TAP batch's audit control info): the file
    is damaged or incomplete in a way no single record shows, so none of it is read."""

    code = "audit_mismatch"


class UnknownFormatError(FairtelError):
    code = "format_unknown"


class FieldMapError(InvalidInputError):
    code = "fieldmap_invalid"
