"""A calibrated LightGBM (+ linear) scorer for any labelled table, with its threshold and reasons.

Training, on the given rows only:
1. stratified K folds (whole groups of rows, when the rows have ``groups``): LightGBM with early stopping picks the number of trees (mean validation curve over
   folds, as ``lightgbm.cv`` does) and gives out-of-fold scores; a logistic regression gives its own. With
   ``search`` (the default) a second, wider tree shape is run on the same folds and the shape with the lower
   mean validation log-loss is kept: a data-driven choice made on the training rows only;
2. the blend weight of the two, the calibration and the F1-maximising threshold are fitted on those
   out-of-fold scores, so none of them has seen a row through the model that scored it;
3. both parts are refitted on all rows; the trees ``bag`` times with different seeds, their log-odds averaged
   (less variance from row and feature sampling; contributions stay exact, being averaged the same way).

Saved as a directory: ``booster.txt`` (and ``booster-1.txt``... for the other seeds; LightGBM's own text
format) and ``model.json`` (everything else).
"""

from __future__ import annotations

import base64
import json
import os
import platform
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import polars as pl
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from fairtel.core.errors import FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.learn._calibration import Calibration, CalibrationKind, fit_calibration
from fairtel.learn._linear import LinearPart, fit_linear
from fairtel.learn._metrics import Metrics, best_f1_threshold, binary_metrics
from fairtel.learn._prepare import (
    ColumnKind,
    TableSpec,
    _clean_text,
    frame_hash,
    id_fingerprints,
    infer_spec,
    resolve_column,
    row_fingerprints,
    rows_digest,
)
from fairtel.learn._reasons import Direction, Phrase, Phrasebook, Reason, format_value, phrase, phrases_for

FORMAT_VERSION = 2  # 2: several boosters (seed bagging); version 1 files (one booster) still load

# The tree shapes compared on the inner folds when ``TrainOptions.search`` is on: (num_leaves,
# min_child_samples, feature_fraction). The first comes from the options; this one is the wider alternative,
# which wins on tables with many informative, correlated aggregates (fraud) and loses on small, simple ones.
WIDE_SHAPE = (31, 10, 0.5)
Matrix = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]
# Rows of the rarer class below which out-of-fold metrics are no measure of quality: with a handful of
# positives, a ROC-AUC or an F1 of 1.0 is as likely luck as skill.
MIN_CLASS_ROWS = 10
# Share of an evaluation table's labelled rows that may be rows the model was trained on before `evaluate`
# refuses to report its figures as quality (below it, they are reported with a warning that says how many).
OVERLAP_LIMIT = 0.05


class ModelError(FairtelError):
    code = "model_invalid"


class Progress(Protocol):
    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class TrainOptions:
    """Defaults meant to hold on tables of a few thousand to a few million rows without tuning."""

    folds: int = 5
    seed: int = 0
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 20
    feature_fraction: float = 0.7
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    max_rounds: int = 3000
    early_stopping: int = 150
    calibration: CalibrationKind = CalibrationKind.PLATT
    blend_linear: bool = True
    linear_c: float = 0.3
    threads: int = 1
    search: bool = True  # also try WIDE_SHAPE on the inner folds; keep the shape with the lower log-loss
    bag: int = 3  # final trees refitted with this many seeds, log-odds averaged

    def shapes(self) -> list[tuple[int, int, float]]:
        own = (self.num_leaves, self.min_child_samples, self.feature_fraction)
        return [own, WIDE_SHAPE] if self.search and own != WIDE_SHAPE else [own]

    def with_shape(self, shape: tuple[int, int, float]) -> TrainOptions:
        return replace(self, num_leaves=shape[0], min_child_samples=shape[1], feature_fraction=shape[2])

    def lgb_params(self, seed_offset: int = 0) -> dict[str, Any]:
        return {
            "objective": "binary",
            "metric": "binary_logloss",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "cat_smooth": 10.0,
            "min_data_per_group": 20,
            "seed": self.seed + seed_offset,
            "deterministic": True,
            "num_threads": self.threads,
            "verbosity": -1,
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["calibration"] = self.calibration.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainOptions:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["calibration"] = CalibrationKind(known.get("calibration", "platt"))
        known.setdefault("search", False)  # options saved before shape search and bagging existed
        known.setdefault("bag", 1)
        return cls(**known)


@dataclass(frozen=True, slots=True)
class Scored:
    id: str
    probability: float
    flagged: bool
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "probability": round(self.probability, 6),
            "flagged": self.flagged,
            "reasons": [r.to_dict() for r in self.reasons],
        }


@dataclass(frozen=True, eq=False)
class TrainingRows:
    """What the model keeps of its training rows to recognise them in another table: a keyed 64-bit fingerprint
    of each row's values (its features and class: ``row_fingerprints``) and, when training named an id column,
    of each row's id (``id_fingerprints``) and of each (id, values) pair; each set sorted, keyed with a random
    salt of this model. No row, id or value is kept: a fingerprint is only compared with another table's,
    computed with the same salt (another model of the same rows keeps other fingerprints)."""

    salt: bytes
    rows: npt.NDArray[np.uint64]
    ids: npt.NDArray[np.uint64] | None = None
    pairs: npt.NDArray[np.uint64] | None = None
    id_column: str | None = None

    @classmethod
    def of(cls, frame: pl.DataFrame, x: Matrix, y: Labels, id_column: str | None) -> TrainingRows:
        salt = os.urandom(16)
        rows = row_fingerprints(x, y, salt)
        if id_column is None or id_column not in frame.columns:
            return cls(salt, np.unique(rows))
        ids, present = id_fingerprints(frame.get_column(id_column), salt)
        return cls(salt, np.unique(rows), np.unique(ids[present]), np.unique(_pair(ids, rows)[present]), id_column)

    def to_dict(self) -> dict[str, Any]:
        """As ``model.json`` keeps them: each set as base64 of its little-endian 64-bit values (8 bytes a row)."""
        def packed(a: npt.NDArray[np.uint64] | None) -> str | None:
            return None if a is None else base64.b64encode(a.astype("<u8").tobytes()).decode("ascii")

        return {"salt": self.salt.hex(), "id_column": self.id_column, "rows": packed(self.rows), "ids": packed(self.ids),
                "pairs": packed(self.pairs)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainingRows:
        def unpacked(text: str | None) -> npt.NDArray[np.uint64] | None:
            if text is None:
                return None
            raw = base64.b64decode(text, validate=True)
            if len(raw) % 8:
                raise ValueError(f"training row fingerprints of {len(raw)} bytes, not a whole number of 8")
            return np.frombuffer(raw, dtype="<u8").astype(np.uint64)

        rows, ids, pairs = unpacked(d["rows"]), unpacked(d.get("ids")), unpacked(d.get("pairs"))
        if rows is None or (ids is None) != (pairs is None):
            raise ValueError("training row fingerprints incomplete")
        return cls(bytes.fromhex(str(d["salt"])), rows, ids, pairs, d.get("id_column") if ids is not None else None)


def _pair(ids: npt.NDArray[np.uint64], rows: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """One fingerprint of an id and a row's values together (both already keyed and uniformly spread)."""
    return np.bitwise_xor(ids, rows * np.uint64(0x9E3779B97F4A7C15))


@dataclass(frozen=True)
class TrainingOverlap:
    """How many of an evaluation table's labelled rows the model was trained on (``TabularModel.evaluation_overlap``).

    ``matched_by``: how they were recognised (their id and values, their values alone, or the whole table);
    None when the model cannot tell (saved before it kept fingerprints of its rows: ``note`` says so).
    ``same_ids``: rows whose id the model was trained on, with other values (a later snapshot of the same
    customers: not its training rows; None when not matched by id). ``refused``: the whole training table, or a
    share of training rows of at least ``limit``."""

    rows: int
    overlapping: int
    matched_by: str | None
    limit: float = OVERLAP_LIMIT
    whole_table: str | None = None
    note: str | None = None
    same_ids: int | None = None

    @property
    def share(self) -> float:
        return self.overlapping / self.rows if self.rows else 0.0

    @property
    def refused(self) -> bool:
        return self.whole_table is not None or (self.overlapping > 0 and self.share >= self.limit)

    @property
    def message(self) -> str | None:
        """Which rows the model was trained on, in words (None: none known to be)."""
        if self.whole_table is not None:
            return self.whole_table
        if not self.overlapping:
            return None
        over = f", at or above the {self.limit * 100:g}% limit" if self.refused else ""
        return (f"{self.overlapping} of the {self.rows} labelled rows ({self.share:.1%}{over}) are rows the model was "
                f"trained on (matched by {self.matched_by})")

    @property
    def warning(self) -> str | None:
        """What to say with the figures when they are reported: the training rows among the rows evaluated, or
        that they could not be looked for (None: nothing to say)."""
        if self.refused:
            return self.message
        if self.overlapping:
            return (f"{self.message}: their scores are in-sample, so the figures are somewhat better than the model "
                    f"does on new rows; evaluate on rows it has not seen for an honest measure")
        return self.note if self.matched_by is None else None

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "training_rows": self.overlapping, "share": round(self.share, 6),
                "matched_by": self.matched_by, "limit": self.limit, "refused": self.refused,
                "training_ids_with_other_values": self.same_ids, "note": self.note}


@dataclass
class TabularModel:
    spec: TableSpec
    booster: lgb.Booster
    n_rounds: int
    linear: LinearPart | None
    blend_weight: float  # weight of the trees in log-odds space; 1.0 = trees only
    calibration: Calibration
    threshold: float
    options: TrainOptions
    task: str = "generic"
    phrases: dict[str, Phrase] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    more_boosters: list[lgb.Booster] = field(default_factory=list)  # seed bagging: averaged with ``booster``
    training_rows: TrainingRows | None = None  # None: a model saved before it kept them (or built by hand)

    def _trees(self, x: Matrix, **kind: bool) -> Matrix:
        """Average over the bagged boosters of raw scores (``raw_score``) or contributions (``pred_contrib``)."""
        bs = [self.booster, *self.more_boosters]
        total = sum(np.asarray(b.predict(x, num_iteration=self.n_rounds, **kind), dtype=np.float64) for b in bs)
        return np.asarray(total, dtype=np.float64) / len(bs)

    # -- scoring ---------------------------------------------------------------------------------------------
    def matrix(self, frame: pl.DataFrame, *, source: str = "table") -> Matrix:
        return self.spec.matrix(frame, source=source)

    def contributions(self, x: Matrix) -> Matrix:
        """Per-feature log-odds contributions (last column: the base value); rows sum to the raw score."""
        trees = self._trees(x, pred_contrib=True)
        if self.linear is None or self.blend_weight >= 1.0:
            return trees
        return self.blend_weight * trees + (1.0 - self.blend_weight) * self.linear.contributions(x)

    def raw_score(self, x: Matrix) -> Matrix:
        trees = self._trees(x, raw_score=True)
        if self.linear is None or self.blend_weight >= 1.0:
            return trees
        return self.blend_weight * trees + (1.0 - self.blend_weight) * self.linear.raw(x)

    def predict_proba(self, frame: pl.DataFrame, *, source: str = "table") -> Matrix:
        return self.calibration(self.raw_score(self.matrix(frame, source=source)))

    def reasons(self, frame: pl.DataFrame, *, top: int = 3, source: str = "table") -> list[tuple[Reason, ...]]:
        """For each row, up to ``top`` features that raised its score most, in words (en and zh)."""
        x = self.matrix(frame, source=source)
        return self._reasons(frame, x, self.contributions(x), top)

    def score(self, frame: pl.DataFrame, *, top: int = 3, source: str = "table",
              explain_from: float | None = None) -> list[Scored]:
        """Probabilities for every row, with reasons for the rows whose probability is at least ``explain_from``
        (None: every row). Reasons need per-feature contributions, which cost far more than the score itself
        (about 50 times with LightGBM's tree explanations), so a scan of many rows explains only those it keeps."""
        x = self.matrix(frame, source=source)
        if explain_from is None:
            contrib = self.contributions(x)
            p = self.calibration(contrib.sum(axis=1))
            reasons = self._reasons(frame, x, contrib, top)
        else:
            p = self.calibration(self.raw_score(x))
            keep = np.flatnonzero(p >= explain_from)
            reasons = [()] * x.shape[0]
            if keep.size:
                sub = x[keep]
                for k, r in zip(keep, self._reasons(frame[keep], sub, self.contributions(sub), top), strict=True):
                    reasons[int(k)] = r
        ids = self.spec.ids(frame)
        return [Scored(i, float(pi), bool(pi >= self.threshold), r) for i, pi, r in zip(ids, p, reasons, strict=True)]

    def evaluate(self, frame: pl.DataFrame, *, source: str = "table", label: str | None = None) -> Metrics:
        """Metrics on ``frame``; ``label``: the column holding the true classes when it is not the one the
        model was trained on (its problems name that column)."""
        frame, y = self._truth(frame, source, label)
        return binary_metrics(y, self.predict_proba(frame, source=source), self.threshold)

    def _truth(self, frame: pl.DataFrame, source: str, label: str | None) -> tuple[pl.DataFrame, Labels]:
        column = resolve_column(frame, label, source, "label") if label else self.spec.label
        frame = _labelled(frame, column, source)
        return frame, self.spec.labels(frame, source=source, column=column)

    @property
    def warnings(self) -> list[str]:
        """What training found that makes its own figures doubtful (too few rows of a class...)."""
        return [str(w) for w in self.meta.get("warnings") or []]

    def training_overlap(self, frame: pl.DataFrame, *, source: str = "table", label: str | None = None,
                         id_column: str | None = None, limit: float = OVERLAP_LIMIT) -> str | None:
        """Why ``frame``'s labelled rows may not be evaluated as a measure of quality, or None: the model's own
        training table, or a share of at least ``limit`` of rows it was trained on (``evaluation_overlap`` tells
        how many in every case, and what to say about fewer)."""
        overlap = self.evaluation_overlap(frame, source=source, label=label, id_column=id_column, limit=limit)
        return overlap.message if overlap.refused else None

    def evaluation_overlap(self, frame: pl.DataFrame, *, source: str = "table", label: str | None = None,
                           id_column: str | None = None, limit: float = OVERLAP_LIMIT) -> TrainingOverlap:
        """How many of ``frame``'s labelled rows this model was trained on.

        The same table (the data hash stored at training) or the same set of feature rows in any order and
        layout (the rows digest) is the whole training table. Otherwise rows are matched with the fingerprints
        the model keeps of its training rows: when training named an id column and ``frame`` has it
        (``id_column``: its name in ``frame``, when not the model's), a row is a training row when a training
        row had its id and its values and class; a row with a training id and other values (the same customer
        later: an out-of-time evaluation) is counted apart, not as one. Without ids, by identical values and
        class (two customers with the same values and class are one row to the model). ``label``: the column
        with the classes when not the model's. A model saved before it kept fingerprints recognises the whole
        table only."""
        label_col = resolve_column(frame, label, source, "label") if label else self.spec.label
        rows = _labelled(frame, label_col, source)
        n = rows.height
        whole = self._whole_table(frame, rows, source)
        if whole is not None:
            return TrainingOverlap(n, n, "the whole table", limit, whole_table=whole)
        kept = self.training_rows
        if kept is None:
            return TrainingOverlap(n, 0, None, limit, note="this model keeps no fingerprints of its training rows (saved "
                                   "before it did): only its whole training table is recognised, not some of its rows "
                                   "in another table; train it again to have them checked")
        own = (resolve_column(rows, id_column, source, "id") if id_column
               else _find_column(rows, kept.id_column) if kept.id_column else None)
        values = row_fingerprints(self.matrix(rows, source=source),
                                  self.spec.labels(rows, source=source, column=label_col), kept.salt)
        if kept.ids is not None and kept.pairs is not None and own is not None:
            ids, present = id_fingerprints(rows.get_column(own), kept.salt)
            seen = present & np.isin(ids, kept.ids)
            hit = present & np.isin(_pair(ids, values), kept.pairs)
            return TrainingOverlap(n, int(hit.sum()), f"id column {own!r} and values", limit,
                                   same_ids=int((seen & ~hit).sum()))
        note = None
        if kept.id_column is not None:
            note = (f"the model's id column {kept.id_column!r} is not in this table: its rows were matched by their "
                    f"values and class alone")
        hit = np.isin(values, kept.rows)
        return TrainingOverlap(n, int(hit.sum()), "identical feature rows and class", limit, note=note)

    def _whole_table(self, frame: pl.DataFrame, rows: pl.DataFrame, source: str) -> str | None:
        """The training table itself: the same table, or the same set of feature rows in another order or layout.
        Only a table with as many labelled rows as the training table is hashed."""
        n = self.meta.get("rows")
        if self.spec.label in frame.columns and self.meta.get("data_hash"):
            own = _labelled(frame, self.spec.label, source)
            if own.height == n and frame_hash(own) == self.meta["data_hash"]:
                return f"the same table as the model's training table ({own.height} labelled rows)"
        digest = self.meta.get("rows_digest")
        if digest and rows.height == n and rows_digest(self.matrix(rows, source=source)) == digest:
            return f"the same {rows.height} rows as the model's training table (in another order or layout)"
        return None

    def _reasons(self, frame: pl.DataFrame, x: Matrix, contrib: Matrix, top: int) -> list[tuple[Reason, ...]]:
        cols = self.spec.columns
        raw_text = {c.name: _clean_text(frame.get_column(c.name)).to_list() for c in cols}
        out: list[tuple[Reason, ...]] = []
        per_feature = contrib[:, :-1]
        order = np.argsort(-per_feature, axis=1, kind="stable")[:, :top]
        ranges = value_ranges(self.meta)
        for i in range(x.shape[0]):
            rs: list[Reason] = []
            for j in order[i]:
                c = float(per_feature[i, j])
                if c <= 0:
                    break
                col = cols[j]
                text = raw_text[col.name][i]
                if col.kind is ColumnKind.CATEGORICAL:
                    direction = Direction.MISSING if text is None else Direction.CATEGORY
                elif np.isnan(x[i, j]):
                    direction = Direction.MISSING
                else:
                    direction = Direction.HIGH if col.is_high(float(x[i, j])) else Direction.LOW
                value = text if col.kind is ColumnKind.CATEGORICAL or np.isnan(x[i, j]) else format_value(float(x[i, j]))
                typical = None  # a value within the usual range is stated beside the typical one
                usual = ranges.get(col.name) if direction in (Direction.HIGH, Direction.LOW) else None
                if usual is not None and not outside(float(x[i, j]), usual):
                    typical = format_value(usual[1])
                en, zh = phrase(col.name, value or "", direction, self.phrases.get(col.name), typical=typical)
                rs.append(Reason(col.name, value or "", direction, c, en, zh))
            out.append(tuple(rs))
        return out

    # -- persistence -----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``booster.txt`` and ``model.json`` into directory ``path`` (created; files replaced atomically)."""
        d = Path(path)
        d.mkdir(parents=True, exist_ok=True)
        files = [_booster_file(i) for i in range(1 + len(self.more_boosters))]
        doc: dict[str, Any] = {
            "format": "fairtel.tabular",
            "format_version": FORMAT_VERSION,
            "task": self.task,
            "spec": self.spec.to_dict(),
            "n_rounds": self.n_rounds,
            "linear": self.linear.to_dict() if self.linear else None,
            "blend_weight": self.blend_weight,
            "calibration": self.calibration.to_dict(),
            "threshold": self.threshold,
            "options": self.options.to_dict(),
            "phrases": {k: v.to_dict() for k, v in self.phrases.items()},
            "meta": self.meta,
            "boosters": files,
            "training_rows": self.training_rows.to_dict() if self.training_rows is not None else None,
        }
        for name, b in zip(files, [self.booster, *self.more_boosters], strict=True):
            _atomic_write(d / name, b.model_to_string(num_iteration=self.n_rounds))
        _atomic_write(d / "model.json", json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=True))
        for stale in d.glob("booster-*.txt"):  # left by an earlier model with more seeds in the same directory
            if stale.name not in files:
                stale.unlink()
        return d


def _booster_file(i: int) -> str:
    return "booster.txt" if i == 0 else f"booster-{i}.txt"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _find_column(frame: pl.DataFrame, name: str) -> str | None:
    """``name``'s column in ``frame`` as ``resolve_column`` finds it, or None when it has none."""
    try:
        return resolve_column(frame, name, "table", "id")
    except InvalidInputError:
        return None


def load_model(path: str | Path) -> TabularModel:
    d = Path(path)
    if not (d / "model.json").is_file() or not (d / "booster.txt").is_file():
        raise NotFoundError(f"no model at {d} (expected model.json and booster.txt)")
    try:
        doc = json.loads((d / "model.json").read_text(encoding="utf-8"))
        if doc.get("format") != "fairtel.tabular" or int(doc.get("format_version", 0)) > FORMAT_VERSION:
            raise ModelError(f"{d}: not a fairtel tabular model of a known version")
        files = list(doc.get("boosters") or ["booster.txt"])
        boosters = [lgb.Booster(model_str=(d / name).read_text(encoding="utf-8")) for name in files]
        return TabularModel(
            spec=TableSpec.from_dict(doc["spec"]),
            booster=boosters[0],
            more_boosters=boosters[1:],
            n_rounds=int(doc["n_rounds"]),
            linear=LinearPart.from_dict(doc["linear"]) if doc.get("linear") else None,
            blend_weight=float(doc["blend_weight"]),
            calibration=Calibration.from_dict(doc["calibration"]),
            threshold=float(doc["threshold"]),
            options=TrainOptions.from_dict(doc.get("options") or {}),
            task=str(doc.get("task", "generic")),
            phrases={k: Phrase.from_dict(v) for k, v in (doc.get("phrases") or {}).items()},
            meta=dict(doc.get("meta") or {}),
            training_rows=TrainingRows.from_dict(doc["training_rows"]) if doc.get("training_rows") else None,
        )
    except (KeyError, TypeError, ValueError, OSError, lgb.basic.LightGBMError) as exc:
        raise ModelError(f"{d}: model files are damaged: {exc}") from exc


def _labelled(frame: pl.DataFrame, label: str, source: str = "table") -> pl.DataFrame:
    """Rows whose label is present (unlabelled rows cannot be trained or evaluated on)."""
    if label not in frame.columns:
        raise InvalidInputError([Problem(source, 1, label, f"label column not found; columns: {', '.join(frame.columns)}")],
                                what=source)
    return frame.filter(_clean_text(frame.get_column(label)).is_not_null())


def _few_rows_warnings(spec: TableSpec, n_pos: int, n_neg: int, folds_asked: int, folds: int) -> list[str]:
    """Why out-of-fold figures of a table this small are no measure: folds cut down to the rows of a class,
    and a class too rare to tell a good model from a lucky one."""
    rare, n_rare = (spec.positive, n_pos) if n_pos <= n_neg else (spec.negative, n_neg)
    out: list[str] = []
    if folds < folds_asked:
        out.append(f"only {n_rare} rows of class {rare!r} in {spec.label!r}: {folds} folds instead of {folds_asked} "
                   f"(each fold needs a row of each class)")
    if n_rare < MIN_CLASS_ROWS:
        out.append(f"out-of-fold metrics rest on {n_rare} rows of class {rare!r} in {spec.label!r}: too few to measure "
                   f"quality (a score of 1.0 may be luck); at least {MIN_CLASS_ROWS} rows of each class are needed")
    return out


def _fit_trees(x: Matrix, y: Labels, cat: list[int], opts: TrainOptions, rounds: int) -> list[lgb.Booster]:
    """The final trees on all rows, once per seed of the bag."""
    ds = lgb.Dataset(x, y, categorical_feature=cat or "auto", free_raw_data=False)
    return [lgb.train(opts.lgb_params(k), ds, num_boost_round=rounds) for k in range(max(1, opts.bag))]


@dataclass
class _Curves:
    """One tree shape run on the inner folds: its boosters, the common best round and the log-loss there."""

    opts: TrainOptions
    boosters: list[lgb.Booster]
    best_round: int
    logloss: float


def _inner_folds(x: Matrix, y: Labels, cat: list[int], opts: TrainOptions, splits: list[tuple[Any, Any]],
                 progress: Progress | None, total: int, step: str = "training folds") -> _Curves:
    """Every fold records its validation curve; the common best round minimises the mean curve."""
    params = opts.lgb_params()
    curves: list[list[float]] = []
    boosters: list[lgb.Booster] = []
    for tr, va in splits:
        dtr = lgb.Dataset(x[tr], y[tr], categorical_feature=cat or "auto", free_raw_data=False)
        dva = lgb.Dataset(x[va], y[va], reference=dtr)
        rec: dict[str, Any] = {}
        b = lgb.train(params, dtr, num_boost_round=opts.max_rounds, valid_sets=[dva], valid_names=["va"],
                      callbacks=[lgb.record_evaluation(rec), lgb.early_stopping(opts.early_stopping, verbose=False)])
        curves.append(list(rec["va"]["binary_logloss"]))
        boosters.append(b)
        if progress:
            progress.step(step, total=total)
    depth = min(len(c) for c in curves)
    mean_curve = np.mean([c[:depth] for c in curves], axis=0)
    best = int(np.argmin(mean_curve))
    return _Curves(opts, boosters, best + 1, float(mean_curve[best]))


def _blend_weight(g: Matrix, lin: Matrix, y: Labels) -> float:
    """Tree weight in the log-odds blend with the best out-of-fold ROC-AUC; ties go to the trees."""
    best_w, best_auc = 1.0, -1.0
    for w in (1.0, 0.8, 0.6, 0.5, 0.4, 0.2, 0.0):
        auc = float(roc_auc_score(y, w * g + (1 - w) * lin))
        if auc > best_auc + 1e-4:
            best_w, best_auc = w, auc
    return best_w


def train_model(
    frame: pl.DataFrame,
    *,
    label: str,
    id_column: str | None = None,
    exclude: Iterable[str] = (),
    options: TrainOptions | None = None,
    task: str = "generic",
    phrasebook: Phrasebook | None = None,
    source: str = "table",
    progress: Progress | None = None,
    positive: str | None = None,
    step: str = "training folds",
    ranges: bool = False,  # keep each numeric feature's usual range (meta["ranges"], see ``_ranges``) for the reasons
    groups: str | None = None,
) -> TabularModel:
    """``positive``: the label value of the event class when the caller has decided it (cross-validation
    does, so that every fold scores the same class); otherwise inferred from the label values. ``step``: the
    name this fit's progress is reported under, its total the fit's own; a caller that fits more than one
    model under one progress sink names each fit apart, or the counts of all would run against one total.
    ``groups``: a column whose equal values mark rows of one unit (a subscriber seen at several dates); the
    inner folds then keep each unit's rows on one side (``StratifiedGroupKFold``), so that no out-of-fold score,
    nor the early stopping, blend, calibration and threshold fitted on them, comes from a model that saw the same
    unit. Name it in ``exclude`` too unless it is meant as a feature. Without it every row is a unit of its own."""
    opts = options or TrainOptions()
    spec = infer_spec(frame, label=label, id_column=id_column, exclude=exclude, source=source, positive=positive)
    n_before = frame.height
    frame = _labelled(frame, spec.label, source)
    x, y = spec.matrix(frame, source=source), spec.labels(frame, source=source)
    n_pos = int(y.sum())
    unit = _group_codes(frame, groups, source) if groups is not None else None
    # the folds are cut down to the units (rows, or groups) of the rarer class
    pos_units = n_pos if unit is None else len(np.unique(unit[y == 1]))
    neg_units = len(y) - n_pos if unit is None else len(np.unique(unit[y == 0]))
    by_rows = max(2, min(opts.folds, n_pos, len(y) - n_pos))
    folds = max(2, min(by_rows, pos_units, neg_units))
    if n_pos < 2 or len(y) - n_pos < 2 or len(y) < 20 or pos_units < 2 or neg_units < 2:
        what = "" if unit is None else f", {pos_units} values of {groups!r} with a positive row"
        raise InvalidInputError([Problem(source, None, spec.label,
                                         f"too few rows to train ({len(y)} rows, {n_pos} positive{what})")], what=source)
    warnings = _few_rows_warnings(spec, n_pos, len(y) - n_pos, opts.folds, by_rows)
    if folds < by_rows:
        warnings.append(f"only {min(pos_units, neg_units)} values of {groups!r} have rows of the rarer class in "
                        f"{spec.label!r}: {folds} folds instead of {by_rows} (each fold keeps a value's rows together)")
    cat = spec.categorical_indices
    if unit is None or len(np.unique(unit)) == len(y):  # a group a row: the rows' own folds, as without groups
        splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=opts.seed).split(x, y))
    else:
        splits = list(StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=opts.seed).split(x, y, unit))
    shapes = opts.shapes()
    total = len(splits) * len(shapes) + 1
    # 1. trees: each candidate shape on the same inner folds; the lower mean validation log-loss wins.
    runs = [_inner_folds(x, y, cat, opts.with_shape(s), splits, progress, total, step) for s in shapes]
    chosen = min(runs, key=lambda r: r.logloss)
    opts, boosters, best_round = chosen.opts, chosen.boosters, chosen.best_round
    oof_trees = np.zeros(len(y))
    oof_lin = np.zeros(len(y))
    for (tr, va), b in zip(splits, boosters, strict=True):
        oof_trees[va] = b.predict(x[va], num_iteration=best_round, raw_score=True)
        if opts.blend_linear:
            oof_lin[va] = fit_linear(x[tr], y[tr], spec, c=opts.linear_c).raw(x[va])
    # 2. blend, calibration and threshold, all on out-of-fold scores.
    w = _blend_weight(oof_trees, oof_lin, y) if opts.blend_linear else 1.0
    oof_raw = w * oof_trees + (1 - w) * oof_lin
    calibration = fit_calibration(oof_raw, y, opts.calibration)
    oof_p = calibration(oof_raw)
    threshold = best_f1_threshold(y, oof_p)
    validation = binary_metrics(y, oof_p, threshold)
    # 3. refit on all rows; more rows support proportionally more trees.
    n_rounds = max(1, round(best_round * folds / (folds - 1)))
    bag = _fit_trees(x, y, cat, opts, n_rounds)
    linear = fit_linear(x, y, spec, c=opts.linear_c) if w < 1.0 else None
    if progress:
        progress.step(step, total=total)
    meta = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_hash": frame_hash(frame),
        "rows_digest": rows_digest(x),
        "source": source,
        "rows": len(y),
        "rows_unlabelled": n_before - frame.height,
        "positives": n_pos,
        "best_round_cv": best_round,
        "shapes": [{"num_leaves": r.opts.num_leaves, "min_child_samples": r.opts.min_child_samples,
                    "feature_fraction": r.opts.feature_fraction, "best_round": r.best_round,
                    "logloss": round(r.logloss, 6), "chosen": r is chosen} for r in runs],
        "out_of_fold": validation.to_dict(),
        **({"fold_groups": {"column": groups, "groups": len(np.unique(unit))}} if unit is not None else {}),
        "warnings": warnings,
        "lightgbm": lgb.__version__,
        "python": platform.python_version(),
    }
    if ranges:
        meta["ranges"] = _ranges(spec, x)
    return TabularModel(
        spec=spec,
        booster=bag[0],
        more_boosters=bag[1:],
        n_rounds=n_rounds,
        linear=linear,
        blend_weight=w,
        calibration=calibration,
        threshold=threshold,
        options=opts,
        task=task,
        phrases=phrases_for(spec.names, phrasebook or {}),
        meta=meta,
        training_rows=TrainingRows.of(frame, x, y, spec.id_column),
    )


def _group_codes(frame: pl.DataFrame, column: str, source: str) -> npt.NDArray[np.int64]:
    """One integer a row, equal for rows with the same value of ``column`` (the units the inner folds keep whole)."""
    if column not in frame.columns:
        raise InvalidInputError([Problem(source, None, column, "the column that groups rows is missing")], what=source)
    if frame[column].null_count():
        raise InvalidInputError([Problem(source, None, column, "the column that groups rows has empty values")], what=source)
    codes = frame.select(pl.col(column).rank("dense")).to_series().to_numpy()
    return codes.astype(np.int64)


RANGE_QUANTILES = (0.1, 0.5, 0.9)


def _ranges(spec: TableSpec, x: Matrix) -> dict[str, list[float]]:
    """Each numeric feature's 10th, 50th and 90th percentiles over the training rows that have a value."""
    out: dict[str, list[float]] = {}
    for j, col in enumerate(spec.columns):
        values = x[:, j][~np.isnan(x[:, j])]
        if col.kind is ColumnKind.NUMERIC and values.size:
            out[col.name] = [float(q) for q in np.quantile(values, RANGE_QUANTILES)]
    return out


def outside(value: float, q: tuple[float, float, float]) -> bool:
    """``value`` outside the usual range ``q`` (10th, 50th and 90th percentiles): at or beyond the 10th or the
    90th and not at the median (on a feature of few values a whole tenth of the rows may sit on the 90th)."""
    low, mid, high = q
    return (value >= high and value > mid) or (value <= low and value < mid)


def value_ranges(meta: Mapping[str, Any]) -> dict[str, tuple[float, float, float]]:
    """The usual ranges a model keeps (``train_model(..., ranges=True)``); none for a model saved without them."""
    out: dict[str, tuple[float, float, float]] = {}
    kept = meta.get("ranges")
    if not isinstance(kept, Mapping):
        return out
    for name, q in kept.items():
        if isinstance(q, list | tuple) and len(q) == 3 and all(isinstance(v, int | float) for v in q):
            out[str(name)] = (float(q[0]), float(q[1]), float(q[2]))
    return out


def with_options(options: TrainOptions | None, **changes: Any) -> TrainOptions:
    return replace(options or TrainOptions(), **changes)
