"""mediation: see README.md in this folder."""

from fairtel.mediation._inbox import watch
from fairtel.mediation._ingest import FileReport, Status, content_hash, ingest_files, mediation_stats, resolve_reader
from fairtel.mediation._keys import key_hashes
from fairtel.mediation._output import USAGE_DATASET, part_path
from fairtel.mediation._partials import is_complete, stitch
from fairtel.mediation._state import LockedError, mediation_lock
from fairtel.mediation._validate import Reason, Validated, validate
from fairtel.mediation.readers._errors import FieldMapError, UnknownFormatError, UnreadableFileError
from fairtel.mediation.readers._fieldmap import FieldMap, FieldMapReader, bundled_fieldmaps, load_fieldmap

__all__ = [
    "USAGE_DATASET",
    "FieldMap",
    "FieldMapError",
    "FieldMapReader",
    "FileReport",
    "LockedError",
    "Reason",
    "Status",
    "UnknownFormatError",
    "UnreadableFileError",
    "Validated",
    "bundled_fieldmaps",
    "content_hash",
    "ingest_files",
    "is_complete",
    "key_hashes",
    "load_fieldmap",
    "mediation_lock",
    "mediation_stats",
    "part_path",
    "resolve_reader",
    "stitch",
    "validate",
    "watch",
]
