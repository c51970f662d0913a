"""The tutorwatch text classifier: normalisation, jieba tokenisation with the domain dictionary,
features, the scikit-learn model (fit / predict / explain), training and evaluation.

``load_model()`` returns the shipped model; ``model.classify(texts)`` returns one
:class:`Verdict` per text. No Scrapy and no Django here.
"""

from classifier.model import DEFAULT_MODEL_PATH, Classifier, ModelLoadError, Verdict, load_model

__all__ = ["DEFAULT_MODEL_PATH", "Classifier", "ModelLoadError", "Verdict", "load_model"]
