"""A regularised logistic regression over the same prepared columns, stored as plain numbers.

Boosted trees win on interactions and thresholds; on small customer tables a linear model is often as good
and generalises more smoothly. The model blends both in log-odds space, with a weight chosen on out-of-fold
scores, and both parts explain themselves additively, so reasons stay exact for the blend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from fairtel.learn._prepare import ColumnKind, TableSpec

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class _NumericPart:
    fill: float
    log: bool
    mean: float
    scale: float
    coef: float
    coef_missing: float
    missing_rate: float


@dataclass(frozen=True, slots=True)
class _CategoricalPart:
    coefs: tuple[float, ...]  # one per level, then one for missing/unknown
    freqs: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class LinearPart:
    intercept: float
    parts: tuple[_NumericPart | _CategoricalPart, ...]

    def contributions(self, x: Matrix) -> Matrix:
        """Per-feature log-odds contributions (centred on the training mean) plus the base value in the last column."""
        out = np.zeros((x.shape[0], len(self.parts) + 1))
        base = self.intercept
        for j, part in enumerate(self.parts):
            col = x[:, j]
            if isinstance(part, _NumericPart):
                miss = np.isnan(col)
                z = _numeric_z(col, part)
                out[:, j] = part.coef * z + part.coef_missing * (miss - part.missing_rate)
                base += part.coef_missing * part.missing_rate  # z is centred already
            else:
                coefs = np.array(part.coefs)
                idx = np.where(np.isnan(col), len(coefs) - 1, np.nan_to_num(col, nan=0.0)).astype(np.int64)
                idx = np.clip(idx, 0, len(coefs) - 1)
                mean = float(np.dot(coefs, np.array(part.freqs)))
                out[:, j] = coefs[idx] - mean
                base += mean
        out[:, -1] = base
        return out

    def raw(self, x: Matrix) -> Matrix:
        return np.asarray(self.contributions(x).sum(axis=1), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        for p in self.parts:
            if isinstance(p, _NumericPart):
                parts.append({"numeric": [p.fill, p.log, p.mean, p.scale, p.coef, p.coef_missing, p.missing_rate]})
            else:
                parts.append({"categorical": {"coefs": list(p.coefs), "freqs": list(p.freqs)}})
        return {"intercept": self.intercept, "parts": parts}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LinearPart:
        parts: list[_NumericPart | _CategoricalPart] = []
        for p in d["parts"]:
            if "numeric" in p:
                f, lg, m, s, c, cm, mr = p["numeric"]
                parts.append(_NumericPart(float(f), bool(lg), float(m), float(s), float(c), float(cm), float(mr)))
            else:
                parts.append(_CategoricalPart(tuple(p["categorical"]["coefs"]), tuple(p["categorical"]["freqs"])))
        return cls(float(d["intercept"]), tuple(parts))


def _signed_log(v: Matrix) -> Matrix:
    return np.asarray(np.sign(v) * np.log1p(np.abs(v)), dtype=np.float64)


def _numeric_z(col: Matrix, part: _NumericPart) -> Matrix:
    v = np.where(np.isnan(col), part.fill, col)
    if part.log:
        v = _signed_log(v)
    return np.asarray(np.clip((v - part.mean) / part.scale, -8.0, 8.0), dtype=np.float64)


def _logistic_newton(a: Matrix, y: Matrix, c: float, *, iterations: int = 50) -> tuple[Matrix, float]:
    """L2-penalised logistic regression (penalty 1/(2c)·|w|², intercept free) by Newton's method.

    Same objective as scikit-learn's ``LogisticRegression(C=c)``; a few exact Newton steps on a small
    design are faster and steadier than a general solver competing for shared cores.
    """
    n, k = a.shape
    x = np.hstack([a, np.ones((n, 1))])
    reg = np.full(k + 1, 1.0 / c)
    reg[-1] = 0.0
    theta = np.zeros(k + 1)
    with threadpool_limits(1):  # BLAS threads only contend with each other on matrices this small
        theta = _newton_steps(x, y, reg, theta, iterations)
    return theta[:-1], float(theta[-1])


def _newton_steps(x: Matrix, y: Matrix, reg: Matrix, theta: Matrix, iterations: int) -> Matrix:
    for _ in range(iterations):
        z = x @ theta
        p = 1.0 / (1.0 + np.exp(-z))
        grad = x.T @ (p - y) + reg * theta
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return theta


def fit_linear(x: Matrix, y: npt.NDArray[np.int64], spec: TableSpec, *, c: float = 0.3) -> LinearPart:
    """Fit on the prepared matrix: numbers median-filled (with a missing flag), log-scaled when heavy-tailed, standardised."""
    blocks: list[Matrix] = []
    protos: list[tuple[str, Any]] = []
    for j, col in enumerate(spec.columns):
        v = x[:, j]
        miss = np.isnan(v)
        if col.kind is ColumnKind.NUMERIC:
            present = v[~miss]
            fill = float(np.median(present)) if present.size else 0.0
            filled = np.where(miss, fill, v)
            q01, q50, q99 = np.quantile(filled, [0.01, 0.5, 0.99])
            # heavy right tail: the 99th percentile far beyond the median's scale
            log = bool(q99 - q50 > 10 * max(q50 - q01, 1e-9) and q99 > q50)
            t = _signed_log(filled) if log else filled
            mean, scale = float(t.mean()), float(t.std()) or 1.0
            proto = _NumericPart(fill, log, mean, scale, 0.0, 0.0, float(miss.mean()))
            blocks.append(_numeric_z(v, proto)[:, None])
            if proto.missing_rate > 0:
                blocks.append((miss.astype(np.float64) - proto.missing_rate)[:, None])
            protos.append(("num", proto))
        else:
            k = len(col.categories) + 1
            idx = np.where(miss, k - 1, np.nan_to_num(v, nan=0.0)).astype(np.int64)
            onehot = np.zeros((len(v), k))
            onehot[np.arange(len(v)), idx] = 1.0
            blocks.append(onehot)
            protos.append(("cat", onehot.mean(axis=0)))
    design = np.hstack(blocks)
    w, b0 = _logistic_newton(design, y.astype(np.float64), c)
    parts: list[_NumericPart | _CategoricalPart] = []
    pos = 0
    for kind, proto in protos:
        if kind == "num":
            cm = 0.0
            coef = float(w[pos])
            pos += 1
            if proto.missing_rate > 0:
                cm = float(w[pos])
                pos += 1
            parts.append(_NumericPart(proto.fill, proto.log, proto.mean, proto.scale, coef, cm, proto.missing_rate))
        else:
            k = len(proto)
            parts.append(_CategoricalPart(tuple(float(t) for t in w[pos : pos + k]), tuple(float(f) for f in proto)))
            pos += k
    # The fitted intercept applies to the design as built (missing flags centred); re-derive the base so that
    # contributions + base reproduce the fitted log-odds exactly.
    intercept = b0
    for p in parts:
        if isinstance(p, _NumericPart):
            intercept -= p.coef_missing * p.missing_rate
    return LinearPart(intercept, tuple(parts))
