"""Item pipelines: page → clean text → contacts → classify → store, one module per stage.

=====================  ===================================  ==================================
stage (ITEM_PIPELINES)  module                               what
=====================  ===================================  ==================================
``CleanTextPipeline``   :mod:`crawler.pipelines.cleaning`    title and text as clean text
``ContactsPipeline``    :mod:`crawler.pipelines.contacts`    phones and WeChat ids
``ClassifyPipeline``    :mod:`crawler.pipelines.classify`    the classifier's verdict
``StorePipeline``       :mod:`crawler.pipelines.store`       into the store, by its one door
=====================  ===================================  ==================================

Beside them: :mod:`crawler.pipelines.base` (what every stage shares: counting stats, the one way
to stop the crawl), :mod:`crawler.pipelines.batches` (the asyncio batcher of the classify and
store stages) and :mod:`crawler.pipelines.worker` (the process or thread they run their batches
on, one per crawl: :mod:`crawler.extensions.pipeline_worker`). The crawl's run is recorded by
an extension, :mod:`crawler.extensions.runs`.

Each stage counts what it did as crawl stats (``tutorwatch/items/...``). The classify and store
stages never switch themselves off: a missing model or an unreachable database stops the crawl
at start with an error, rather than quietly crawling into nothing; a database lost mid-crawl
stops it with reason ``store_unavailable``, and so does the loss of the worker process that
scores and stores. Takedown items (``{"takedown": ...}``, from ``crawler.incremental``) pass
the text stages untouched and are recorded by the store.

Every stage acts only on crawls of a tutorwatch source
(:func:`crawler.spiders.base.crawls_a_source`); for any other spider (``scrapy runspider``,
``scrapy shell``, ``scrapy fetch`` from the checkout) each stage turns itself off
(``NotConfigured``), so its items pass untouched and no model, worker process, store or crawl
run is touched.

The stages are importable from here by the names settings have always used
(``crawler.pipelines.StorePipeline``), each loaded when first asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "CleanTextPipeline": "crawler.pipelines.cleaning",
    "ContactsPipeline": "crawler.pipelines.contacts",
    "ClassifyPipeline": "crawler.pipelines.classify",
    "StorePipeline": "crawler.pipelines.store",
    "for_sources_only": "crawler.pipelines.base",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    # Loaded on demand: the extensions the stages use import crawler.pipelines.base, and an
    # eager import of every stage here would import them back half-built.
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
