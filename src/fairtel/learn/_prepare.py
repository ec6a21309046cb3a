"""Automatic preparation of any labelled table: column kinds, missing values, labels, id-like columns.

Every column is read as text first and typed here, because CSV exports of real customer tables are messy:
numbers with blanks (" " in IBM's TotalCharges), yes/no or True/False labels, id columns that look numeric.
The resulting ``TableSpec`` is stored with the model, so scoring applies exactly the training preparation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from fairtel.core.errors import InvalidInputError, Problem

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-", "#n/a"})
POSITIVE_TOKENS = frozenset(
    {"1", "1.0", "yes", "y", "true", "t", "churn", "churned", "fraud", "fraudulent", "positive", "pos", "bad",
     "left", "exited", "lost", "cancelled", "canceled", "是"}
)
NEGATIVE_TOKENS = frozenset(
    {"0", "0.0", "no", "n", "false", "f", "stayed", "normal", "negative", "neg", "good", "retained", "active",
     "current", "legit", "legitimate", "否"}
)
# A text column is numeric when this share of its non-missing cells parses as a number.
NUMERIC_SHARE = 0.98
# Category levels seen fewer times than this are treated as missing: they cannot be learned and overfit.
MIN_LEVEL_COUNT = 3


class ColumnKind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True, slots=True)
class Column:
    """One model input: its kind, and for numbers the training median (used to phrase "high"/"low")."""

    name: str
    kind: ColumnKind
    categories: tuple[str, ...] = ()
    median: float | None = None
    mean: float | None = None

    def is_high(self, value: float) -> bool:
        """Above the typical value; at the median (common for counts and 0/1 flags), above the mean."""
        if self.median is None or self.mean is None:
            return True
        if value != self.median:
            return value > self.median
        return value >= self.mean

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind.value, "categories": list(self.categories), "median": self.median,
                "mean": self.mean}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Column:
        return cls(d["name"], ColumnKind(d["kind"]), tuple(d.get("categories") or ()), d.get("median"), d.get("mean"))


@dataclass(frozen=True, slots=True)
class TableSpec:
    """How a raw table becomes a feature matrix: inputs, label and its positive value, what was left out and why."""

    columns: tuple[Column, ...]
    label: str
    positive: str
    negative: str
    id_column: str | None = None
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.kind is ColumnKind.CATEGORICAL]

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "label": self.label,
            "positive": self.positive,
            "negative": self.negative,
            "id_column": self.id_column,
            "dropped": dict(self.dropped),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TableSpec:
        return cls(
            columns=tuple(Column.from_dict(c) for c in d["columns"]),
            label=d["label"],
            positive=d["positive"],
            negative=d["negative"],
            id_column=d.get("id_column"),
            dropped=dict(d.get("dropped") or {}),
        )

    def matrix(self, frame: pl.DataFrame, *, source: str = "table") -> npt.NDArray[np.float64]:
        """The float feature matrix: numbers as parsed (missing = NaN), categories as level codes (unknown = NaN)."""
        missing = [c.name for c in self.columns if c.name not in frame.columns]
        if missing:
            raise InvalidInputError(
                [Problem(source, 1, name, "column the model was trained on is missing") for name in missing],
                what=source,
            )
        out = np.full((frame.height, len(self.columns)), np.nan, dtype=np.float64)
        for j, col in enumerate(self.columns):
            s = _clean_text(frame.get_column(col.name))
            if col.kind is ColumnKind.NUMERIC:
                out[:, j] = s.cast(pl.Float64, strict=False).fill_null(np.nan).to_numpy()
            else:
                codes = {v: float(i) for i, v in enumerate(col.categories)}
                out[:, j] = np.array([codes.get(v, np.nan) if v is not None else np.nan for v in s.to_list()])
        return out

    def labels(self, frame: pl.DataFrame, *, source: str = "table", column: str | None = None) -> npt.NDArray[np.int64]:
        """0/1 labels; a row whose label is missing or neither class is reported with its line number.

        Another file may write the same classes in other words: a model trained on yes/no is evaluated on a
        1/0 or true/false export. When the recorded classes are words of that kind (the positive one a
        positive word, or the negative one a negative word, and neither the opposite), a value is read by its
        word too; only a value that is neither class nor such a word is an error. Classes with no such word
        (``A``/``B``, the rarer one taken as positive) match exactly. ``column``: where the labels are when not
        in the column the model was trained on (an evaluation file's own name for it)."""
        name = column or self.label
        if name not in frame.columns:
            raise InvalidInputError([Problem(source, 1, name, f"label column not found; columns: {', '.join(frame.columns)}")],
                                    what=source)
        values = _clean_text(frame.get_column(name)).to_list()
        y = np.zeros(len(values), dtype=np.int64)
        problems = []
        pos, neg = _norm(self.positive), _norm(self.negative)
        by_word = _label_words_agree(pos, neg)
        for i, v in enumerate(values):
            nv = _norm(v) if v is not None else None
            if nv == pos:
                y[i] = 1
            elif nv == neg:
                continue
            elif by_word and nv is not None and (side := _label_word(nv)) is not None:
                y[i] = side
            else:
                also = f" (or a word for one: {_WORD_HINT})" if by_word else ""
                problems.append(Problem(source, i + 2, name,
                                        f"label {v!r} is neither {self.positive!r} (the positive class) nor "
                                        f"{self.negative!r}{also}"))
        if problems:
            raise InvalidInputError(problems[:50], what=source)
        return y

    def ids(self, frame: pl.DataFrame) -> list[str]:
        if self.id_column and self.id_column in frame.columns:
            return [str(v) for v in frame.get_column(self.id_column).cast(pl.Utf8).to_list()]
        return [str(i) for i in range(frame.height)]


_WHOLE_NUMBER = re.compile(r"[+-]?\d+(\.0*)?")


def _norm(v: str) -> str:
    """A label value as compared: case and surrounding spaces ignored, and a whole number written as a decimal
    (``1.0``, ``0.00``: an export from a spreadsheet or a float column) the same class as the integer."""
    s = v.strip().lower()
    if _WHOLE_NUMBER.fullmatch(s):
        return str(int(s.split(".")[0]))
    return s


_WORD_HINT = "1/0, yes/no, true/false, fraud/normal, churn/stayed..."


def _label_word(nv: str) -> int | None:
    """1 for a word of the positive class (``yes``, ``1``, ``1.00``, ``true``, ``churn`` ...), 0 for one of the
    negative class, None for any other value. ``nv`` is normalised (``_norm``)."""
    if nv in POSITIVE_TOKENS:
        return 1
    if nv in NEGATIVE_TOKENS:
        return 0
    try:
        number = float(nv)
    except ValueError:
        return None
    return 1 if number == 1 else 0 if number == 0 else None


def _label_words_agree(pos: str, neg: str) -> bool:
    """Whether a model's classes ``pos``/``neg`` (normalised) may be read by their words: at least one of them
    is such a word and neither says the opposite (a model whose positive class is ``0`` matches exactly)."""
    p, n = _label_word(pos), _label_word(neg)
    return p in (1, None) and n in (0, None) and (p, n) != (None, None)


def _clean_text(s: pl.Series) -> pl.Series:
    """Trim whitespace; blanks and the usual missing tokens become null."""
    s = s.cast(pl.Utf8).str.strip_chars()
    return pl.select(
        pl.when(s.str.to_lowercase().is_in(list(MISSING_TOKENS))).then(None).otherwise(s).alias(s.name)
    ).to_series()


def read_table(path: str | Path) -> pl.DataFrame:
    """Read a CSV with every column as text (typing happens in ``infer_spec``); trailing blanks are kept as cells."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError([Problem(str(p), None, None, "file not found")], what=str(p))
    try:
        frame = pl.read_csv(p, infer_schema=False, truncate_ragged_lines=False, encoding="utf8-lossy")
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError([Problem(str(p), None, None, f"cannot read as CSV: {exc}")], what=str(p)) from exc
    if frame.height == 0:
        raise InvalidInputError([Problem(str(p), None, None, "no data rows")], what=str(p))
    return frame


def frame_hash(frame: pl.DataFrame) -> str:
    """A content hash of a table (column names and cells), stored with a model to name what it was trained on."""
    return hashlib.sha256(frame.write_csv().encode("utf-8")).hexdigest()


def rows_digest(x: npt.NDArray[np.float64]) -> str:
    """A content hash of a feature matrix that ignores the order of its rows: stored with a model, it recognises
    its training rows however the table is sorted, whatever other columns (an id, a note) it carries and
    however its numbers are written (``1`` or ``1.0``). One digest of the whole set, nothing per row."""
    m = _canonical(x)
    if m.shape[0] > 1 and m.shape[1] > 0:
        m = m[np.lexsort(m.T[::-1])]
    h = hashlib.sha256(f"{m.shape[0]}x{m.shape[1]}:".encode())
    h.update(m.tobytes())
    return h.hexdigest()


def _canonical(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The matrix as its bytes are hashed: -0.0 as 0.0, one NaN pattern (``1`` and ``1.0`` are the same float)."""
    m = np.ascontiguousarray(x, dtype=np.float64) + 0.0
    m[np.isnan(m)] = np.nan
    return m


def _keyed(domain: bytes, chunks: Iterable[bytes | memoryview], salt: bytes) -> npt.NDArray[np.uint64]:
    """BLAKE2b keyed with ``salt``, 8 bytes of each chunk's digest (the keyed state is set up once and copied)."""
    start = hashlib.blake2b(domain, digest_size=8, key=salt)

    def one(chunk: bytes | memoryview) -> bytes:
        h = start.copy()
        h.update(chunk)
        return h.digest()

    return np.frombuffer(b"".join(one(c) for c in chunks), dtype="<u8").astype(np.uint64)


def row_fingerprints(x: npt.NDArray[np.float64], y: npt.NDArray[np.int64], salt: bytes) -> npt.NDArray[np.uint64]:
    """A keyed 64-bit fingerprint of each row: its features as ``rows_digest`` reads them, and its class. Two
    rows share one only when they are the same row to the model (or by a chance of about n / 2**64)."""
    m = _canonical(np.column_stack([x, np.asarray(y, dtype=np.float64)]) if x.shape[0] else x)
    width = m.shape[1] * 8
    raw = memoryview(m.tobytes())
    return _keyed(b"row:", (raw[i * width:(i + 1) * width] for i in range(m.shape[0])), salt)


def id_fingerprints(ids: pl.Series, salt: bytes) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """A keyed 64-bit fingerprint of each id (trimmed; a whole number written ``12.0`` as ``12``) and whether the
    row has one (a blank or missing id has none)."""
    text = _clean_text(ids).to_list()
    present = np.array([v is not None for v in text], dtype=np.bool_)
    norm = [str(int(v.split(".")[0])) if v is not None and _WHOLE_NUMBER.fullmatch(v) else (v or "") for v in text]
    return _keyed(b"id:", (v.encode() for v in norm), salt), present


def resolve_column(frame: pl.DataFrame, name: str, source: str, what: str) -> str:
    """Column names match exactly, else case- and space-insensitively (``churn`` finds ``Churn``); a name that
    matches no column is an error that lists the columns there are."""
    if name in frame.columns:
        return name
    key = re.sub(r"\s+", "", name).lower()
    hits = [c for c in frame.columns if re.sub(r"\s+", "", c).lower() == key]
    if len(hits) == 1:
        return hits[0]
    raise InvalidInputError([Problem(source, 1, name, f"{what} column not found; columns: {', '.join(frame.columns)}")], what=source)


def _label_classes(values: Sequence[str], name: str, source: str, positive: str | None = None) -> tuple[str, str]:
    """(positive, negative) raw values of a two-class label column; ``positive`` names the event class when the
    caller already knows it (a cross-validation fold must keep the class chosen on the whole table)."""
    counts: dict[str, int] = {}
    raw: dict[str, str] = {}
    for v in values:
        nv = _norm(v)
        counts[nv] = counts.get(nv, 0) + 1
        raw.setdefault(nv, v)
    if len(counts) == 1:
        (only,) = raw.values()
        raise InvalidInputError(
            [Problem(source, None, name, f"label must have exactly two classes, found 1: every one of the {len(values)} "
                                         f"labelled rows is {only!r}; a model needs rows of both classes")], what=source
        )
    if len(counts) != 2:
        shown = ", ".join(sorted(raw.values())[:10])
        raise InvalidInputError(
            [Problem(source, None, name, f"label must have exactly two classes, found {len(counts)}: {shown}")], what=source
        )
    a, b = sorted(counts)
    if positive is not None:
        if _norm(positive) not in counts:
            raise InvalidInputError(
                [Problem(source, None, name, f"positive class {positive!r} is not among the labels: {', '.join(sorted(raw.values()))}")],
                what=source,
            )
        pos = _norm(positive)
        return raw[pos], raw[b if pos == a else a]
    if a in POSITIVE_TOKENS and b not in POSITIVE_TOKENS:
        return raw[a], raw[b]
    if b in POSITIVE_TOKENS and a not in POSITIVE_TOKENS:
        return raw[b], raw[a]
    if a in NEGATIVE_TOKENS and b not in NEGATIVE_TOKENS:
        return raw[b], raw[a]
    if b in NEGATIVE_TOKENS and a not in NEGATIVE_TOKENS:
        return raw[a], raw[b]
    # Neither value says which class is the event: the rarer one is (fraud and churn are the minority).
    pos = a if (counts[a], b) < (counts[b], a) else b
    neg = b if pos == a else a
    return raw[pos], raw[neg]


# Words that make a column's name an identifier's: as its last word (``customer_id``, ``CustomerID``,
# ``account_no``, ``RowNumber``) or as any word (``msisdn``, ``caller_imsi``).
# (Not ``num``: in many exports ``call_num`` is a count of calls.)
_ID_LAST_WORDS = frozenset({"id", "ids", "no", "number", "key", "idx", "index", "uuid", "guid"})
_ID_ANY_WORDS = frozenset({"msisdn", "imsi", "imei", "iccid", "uuid", "guid"})
# Digits of a number written the same width on every row that is a code, not a quantity (a phone number, an
# IMSI, an ICCID): a quantity this large spans more than one power of ten.
_CODE_DIGITS = 11


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", name))
    return [w for w in re.split(r"[^0-9A-Za-z]+", spaced.lower()) if w]


def _integer_id(name: str, values: pl.Series) -> str | None:
    """Why a numeric column holding a distinct integer on (nearly) every row is an identifier, or None when
    it is a quantity: a distinct count of bytes or seconds on every row is normal for a continuous measure.
    Identifiers are told by their name, by running in file order (row numbers, sequential ids), by filling
    a range with hardly a gap, or by being written with the same many digits on every row (numbers, IMSIs)."""
    words = _name_words(name)
    if words and (words[-1] in _ID_LAST_WORDS or _ID_ANY_WORDS & set(words) or "".join(words) in {"rownumber", "rowid"}):
        return "its name says it identifies a row; distinct integer on every row"
    if values.len() < 2:
        return None
    diffs = values.diff().drop_nulls()
    if bool((diffs > 0).all()) or bool((diffs < 0).all()):
        return "distinct integers in file order, like row numbers"
    lo, hi = values.min(), values.max()
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
        if hi - lo + 1 <= 1.05 * values.n_unique():
            return "distinct integers filling a range, like sequential ids"
        if lo > 0:
            digits = (values.cast(pl.Float64).log10().floor() + 1).unique()
            if digits.len() == 1 and digits[0] >= _CODE_DIGITS:
                return f"distinct {int(digits[0])}-digit codes, like numbers or IMSIs"
    return None


def infer_spec(
    frame: pl.DataFrame,
    *,
    label: str,
    id_column: str | None = None,
    exclude: Iterable[str] = (),
    source: str = "table",
    max_levels: int = 100,
    positive: str | None = None,
) -> TableSpec:
    """Decide, from the data alone, which columns are inputs and of what kind.

    Dropped (and said why): the id column, excluded columns, constant columns, id-like columns (distinct
    text on most rows; distinct integers on nearly every row that look like identifiers, see ``_integer_id``:
    a quantity is distinct on every row too), and text columns with too many levels to learn from. ``positive``:
    the label value of the event class, when already decided (otherwise inferred from the values).
    """
    label = resolve_column(frame, label, source, "label")
    id_name = resolve_column(frame, id_column, source, "id") if id_column else None
    excluded = {resolve_column(frame, e, source, "excluded") for e in exclude}
    clash: list[Problem] = []
    if id_column and id_name == label:
        clash.append(Problem(source, 1, id_column, f"the id column is the label column {label!r}; the id must be another column"))
    if label in excluded:
        clash.append(Problem(source, 1, label, "the label column cannot be excluded from the features: it is never one"))
    if clash:
        raise InvalidInputError(clash, what=source)
    labels = _clean_text(frame.get_column(label)).drop_nulls().to_list()
    positive, negative = _label_classes(labels, label, source, positive)

    dropped: dict[str, str] = {}
    if id_name:
        dropped[id_name] = "id column"
    for e in sorted(excluded):
        dropped.setdefault(e, "excluded")
    columns: list[Column] = []
    n = frame.height
    for name in frame.columns:
        if name == label or name in dropped:
            continue
        s = _clean_text(frame.get_column(name))
        present = s.drop_nulls()
        if present.len() == 0:
            dropped[name] = "empty"
            continue
        nums = present.cast(pl.Float64, strict=False)
        numeric_share = 1.0 - nums.null_count() / present.len()
        distinct = present.n_unique()
        if distinct <= 1:
            dropped[name] = "constant"
            continue
        if numeric_share >= NUMERIC_SHARE:
            finite = nums.drop_nulls()
            is_int = bool((finite == finite.round(0)).all())
            if is_int and n >= 50 and distinct >= 0.99 * n and (why := _integer_id(name, finite)):
                dropped[name] = f"id-like ({why})"
                continue
            med, mean = finite.median(), finite.mean()
            columns.append(Column(name, ColumnKind.NUMERIC, median=float(med) if isinstance(med, (int, float)) else None,
                                  mean=float(mean) if isinstance(mean, (int, float)) else None))
            continue
        if n >= 50 and distinct >= 0.5 * n:
            dropped[name] = "id-like (distinct text on most rows)"
            continue
        vc = present.value_counts(sort=True)
        levels = [str(v) for v, c in zip(vc[name].to_list(), vc["count"].to_list(), strict=True) if c >= MIN_LEVEL_COUNT]
        if len(levels) > max_levels:
            dropped[name] = f"too many categories ({distinct})"
            continue
        if len(levels) < 2:
            dropped[name] = "no category frequent enough"
            continue
        columns.append(Column(name, ColumnKind.CATEGORICAL, categories=tuple(sorted(levels))))
    if not columns:
        raise InvalidInputError([Problem(source, None, None, "no usable feature columns")], what=source)
    return TableSpec(tuple(columns), label, positive, negative, id_name, dropped)
