"""The tutorwatch text classifier: normalisation, jieba tokenisation with the domain dictionary,
features, the scikit-learn model (fit / predict / explain), training and evaluation.

``load_model()`` returns the shipped model; ``model.classify(texts)`` returns one
:class:`Verdict` per text. No Scrapy and no Django here.

The names below come from :mod:`classifier.model` when first asked for, so that importing a
light module of the package (``classifier.registers``, ``classifier.normalize``) does not
import scikit-learn (about 1.5 CPU s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from classifier.model import (
        DEFAULT_MODEL_PATH,
        Classifier,
        ModelLoadError,
        Verdict,
        load_model,
    )

__all__ = ["DEFAULT_MODEL_PATH", "Classifier", "ModelLoadError", "Verdict", "load_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from classifier import model

        return getattr(model, name)
    raise AttributeError(f"module 'classifier' has no attribute {name!r}")
