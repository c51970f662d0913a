"""jieba tokenisation with the domain dictionary, through one private ``jieba.Tokenizer``.

Never the global ``jieba.cut``: the tokenizer is created lazily on first use with the default
dictionary plus ``data/domain_dict.txt``. ``jieba_tokens`` is a named module-level function so a
saved model refers to it by a stable name (it is in the model's trusted types).
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import jieba

DOMAIN_DICT = Path(__file__).resolve().parent / "data" / "domain_dict.txt"
_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


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


def segment(text: str) -> list[str]:
    """jieba's segmentation of ``text`` (HMM on), as a list."""
    return tokenizer().lcut(text)


_WORDLIKE = re.compile(r"\w")


def jieba_tokens(text: str) -> list[str]:
    """Tokens for the word features: jieba words that hold a letter, digit or character
    (white space and punctuation are dropped)."""
    return [tok for tok in tokenizer().cut(text) if _WORDLIKE.search(tok)]
