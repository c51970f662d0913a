"""jieba tokenisation with the domain dictionary, through one private ``jieba.Tokenizer``.

Never the global ``jieba.cut``: the tokenizer is created lazily on first use with the default
dictionary plus ``data/domain_dict.txt``. ``jieba_tokens`` is a named module-level function so a
saved model refers to it by a stable name (it is in the model's trusted types).
"""

from __future__ import annotations

import logging
import re
import threading
from math import log
from pathlib import Path

import jieba

from classifier.cache import cached

DOMAIN_DICT = Path(__file__).resolve().parent / "data" / "domain_dict.txt"
JIEBA_DICT = Path(jieba.__file__).resolve().parent / jieba.DEFAULT_DICT_NAME
_lock = threading.RLock()
_tokenizer: jieba.Tokenizer | None = None
# Word -> log probability as jieba's ``calc`` computes it, None for a prefix that is not a word.
_log_probs: dict[str, float | None] = {}
_log_unknown = 0.0


def tokenizer() -> jieba.Tokenizer:
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                jieba.setLogLevel(logging.WARNING)
                made = jieba.Tokenizer()
                made.initialize()
                with open(DOMAIN_DICT, "rb") as handle:  # jieba leaves a path's file open
                    made.load_userdict(handle)
                _tokenizer = made
    return _tokenizer


def _build_log_probs() -> tuple[dict[str, float | None], float]:
    made = tokenizer()
    log_total = log(made.total)
    # The same floats jieba's calc makes: (log(freq) - log(total)) for a word.
    probs = {word: log(freq) - log_total if freq else None for word, freq in made.FREQ.items()}
    return probs, log(1) - log_total


def _load_log_probs() -> None:
    """Fill the table :func:`cut_exact` uses, from the cache (``classifier.cache``, keyed by
    jieba's version and the bytes of its dictionary and the domain dictionary) or built from
    jieba's dictionary: 0.35 s of CPU instead of 1.2 s to load jieba's and build it."""
    global _log_unknown
    if _log_probs:
        return
    with _lock:
        if _log_probs:
            return
        sources = [jieba.__version__, JIEBA_DICT.read_bytes(), DOMAIN_DICT.read_bytes()]
        probs, unknown = cached("jieba-log-probs", sources, _build_log_probs)
        _log_unknown = unknown
        _log_probs.update(probs)


def segment(text: str) -> list[str]:
    """jieba's segmentation of ``text`` (HMM on), as a list."""
    return tokenizer().lcut(text)


_WORDLIKE = re.compile(r"\w")
_HAN = jieba.re_han_default
_SKIP = jieba.re_skip_default
_ENGLISH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _cut_block(block: str, out: list[str]) -> None:
    """jieba's ``__cut_DAG_NO_HMM`` on one block, in one pass: for each position from the end,
    the best route over the dictionary words starting there (jieba's ``get_DAG`` and ``calc``
    fused, with the log probabilities computed once per dictionary instead of per candidate).
    Ties go to the longer word, as jieba's ``max`` over ``(score, end)`` does."""
    probs = _log_probs
    n = len(block)
    score = [0.0] * (n + 1)
    end = [0] * (n + 1)
    for start in range(n - 1, -1, -1):
        best, best_end = None, start
        i, frag = start, block[start]
        while True:
            prob = probs.get(frag, _ABSENT)
            if prob is _ABSENT:
                break
            if prob is not None:
                candidate = prob + score[i + 1]
                if best is None or candidate >= best:
                    best, best_end = candidate, i
            i += 1
            if i >= n:
                break
            frag = block[start:i + 1]
        if best is None:
            best = _log_unknown + score[start + 1]
        score[start], end[start] = best, best_end
    x, buffer = 0, ""
    while x < n:
        y = end[x] + 1
        if y - x == 1 and block[x] in _ENGLISH:
            buffer += block[x]
        else:
            if buffer:
                out.append(buffer)
                buffer = ""
            out.append(block[x:y])
        x = y
    if buffer:
        out.append(buffer)


_ABSENT = object()


def cut_exact(text: str) -> list[str]:
    """``tokenizer().lcut(text, HMM=False)``, computed faster: a copy of jieba's private
    ``__cut_DAG_NO_HMM`` route, kept because it still pays in batch scoring: it saves 16–19 %
    of the classifier's time at every batch size a crawl and ``tutorwatch classify`` use
    (``benchmarks/classifier_copies.py``, docs/benchmarks.md). A test checks that it cuts every
    corpus text, raw and normalised, and random strings exactly as jieba does."""
    _load_log_probs()
    out: list[str] = []
    for block in _HAN.split(text):
        if not block:
            continue
        if _HAN.match(block):
            _cut_block(block, out)
        else:
            for piece in _SKIP.split(block):
                if _SKIP.match(piece):
                    out.append(piece)
                else:
                    out.extend(piece)
    return out


def jieba_tokens(text: str) -> list[str]:
    """Tokens for the word features: jieba words that hold a letter, digit or character
    (white space and punctuation are dropped).

    jieba's HMM (which guesses words missing from the dictionaries) is off: the character
    n-grams already cover the words it would find, and without it the segmentation can be done
    by :func:`cut_exact` in one pass.
    """
    return [tok for tok in cut_exact(text) if _WORDLIKE.search(tok)]
