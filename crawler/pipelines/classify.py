"""The classify stage: each ad scored by the classifier; the verdict travels with the item to
the store.

In a crawl (``TUTORWATCH_CLASSIFY_IN_BATCHES``, on in the crawl settings) ads are scored on the
crawl's pipeline worker, the one the store writes on (:mod:`crawler.pipelines.worker`), in
batches of the ads that came while it was busy (:mod:`crawler.pipelines.batches`): one call for
many ads costs far less per ad than one call each, and the reactor goes on meanwhile. Otherwise
(``tutorwatch try``, and in tests) each ad is scored at once.

The model is loaded once per process (:func:`loaded_model`). Scoring in batches, it is loaded
by the pipeline worker alone, which the stage forks when it is built and hands the loading at
once (:func:`prepare`): the worker loads it (the model, jieba's and OpenCC's tables, and the
classifier's imports when the crawl process has not made them) while the crawl process, which
never loads it, starts its crawl. A model file that does not exist stops the crawl at start;
one that cannot be loaded stops it (reason ``model_unavailable``) as soon as the worker finds
out, before any ad is scored. Scoring ads one at a time, the stage loads the model when built.

The model is the file ``TUTORWATCH_MODEL`` names, else the version promoted in the store
(:meth:`review_ui.store.Store.current_model_path`, ``tutorwatch model promote``), else the
shipped one (also when a crawl has no store, as ``tutorwatch try`` may not).

Settings: ``TUTORWATCH_MODEL`` (model file), ``TUTORWATCH_FLAG_THRESHOLD`` (flag at or above
this score instead of the model's own threshold), ``TUTORWATCH_CLASSIFY_IN_BATCHES``.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import cache, partial
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.extensions.pipeline_worker import started_crawl_worker
from crawler.pipelines.base import Stage, crawl_stopper, for_sources_only
from crawler.pipelines.batches import Batches
from crawler.pipelines.worker import PipelineWorker
from review_ui.store import Store, StoreNotReady, StoreUnavailable

logger = logging.getLogger(__name__)


def _ask_store_in_thread() -> str | None:
    store = Store()
    try:
        return store.current_model_path()
    finally:
        store.close()  # the thread's own connection


def promoted_model_path() -> str | None:
    """The promoted model version's file from the store; None (the shipped model) when none is
    promoted or there is no store to ask."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no event loop in this thread: ask here
        ask = Store().current_model_path
    else:  # `scrapy crawl` builds the stages in the reactor's loop, where Django refuses to query
        def ask() -> str | None:
            with ThreadPoolExecutor(1) as pool:
                return pool.submit(_ask_store_in_thread).result()
    try:
        return ask()
    except (StoreNotReady, StoreUnavailable) as exc:
        logger.warning("no store to ask for the promoted model (%s): using the shipped model", exc)
        return None


@cache
def loaded_model(path: str | None, threshold: float | None) -> Any:
    """The model in ``path`` (the shipped one for None), flagging at ``threshold`` when given
    instead of its own, loaded once per process."""
    from classifier import load_model

    model = load_model(path)
    if threshold is not None:
        model.threshold = threshold
    model.classify([""])  # load jieba's dictionary now, not on the first ad
    return model


def prepare(path: str | None, threshold: float | None) -> None:
    """Load the model in the process this runs in (the pipeline worker's), nothing sent back."""
    loaded_model(path, threshold)


def score(path: str | None, threshold: float | None, texts: list[str]) -> list[dict[str, Any]]:
    """The batch work of :class:`ClassifyPipeline` (a plain function, to run in a worker
    process)."""
    return [verdict.as_dict() for verdict in loaded_model(path, threshold).classify(texts)]


def split_evidence(evidence: list[dict[str, Any]], title_length: int) -> list[dict[str, Any]]:
    """Evidence spans of "title\\nbody" as spans of the title or of the body, each marked with
    its ``field``, so that the review UI highlights the right characters."""
    out = []
    for span in evidence:
        start, end = span["start"], span["end"]
        if end <= title_length:
            out.append({**span, "field": "title"})
        elif start > title_length:
            shift = title_length + 1
            out.append({**span, "field": "text", "start": start - shift, "end": end - shift})
    return out


class ClassifyPipeline(Stage):
    """Score each ad with the classifier, at once or in batches on ``worker``.

    ``threshold`` (``TUTORWATCH_FLAG_THRESHOLD``), when given, replaces the model's own: an ad
    scoring at or above it is flagged."""

    BATCH_SIZE = 100

    def __init__(self, model_path: str | None = None, stats: Any = None,
                 threshold: float | None = None, worker: PipelineWorker | None = None,
                 **stage: Any) -> None:
        if threshold is not None and not 0 <= threshold <= 1:
            raise ValueError(f"TUTORWATCH_FLAG_THRESHOLD must be between 0 and 1; got {threshold}")
        super().__init__(stats, **stage)
        model_path = model_path or None
        if model_path is not None and not Path(model_path).is_file():
            raise FileNotFoundError(f"no model file at {model_path}")
        self.worker = worker
        self.model = loaded_model(model_path, threshold) if worker is None else None
        # The worker loads it, before any batch, while the crawl starts (checked at open_spider).
        self._loading = worker.submit(prepare, model_path, threshold) if worker else None
        self._batches = (Batches(worker, partial(score, model_path, threshold),
                                 self.BATCH_SIZE, failed=self._failed, log_extra=self.log_extra)
                         if worker is not None else None)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClassifyPipeline:
        for_sources_only(crawler)
        settings = crawler.settings
        raw = settings.get("TUTORWATCH_FLAG_THRESHOLD")
        threshold = None if raw is None or str(raw).strip() == "" else float(raw)
        in_batches = settings.getbool("TUTORWATCH_CLASSIFY_IN_BATCHES")
        model_path = settings.get("TUTORWATCH_MODEL") or (
            promoted_model_path() if settings.getbool("TUTORWATCH_ASK_STORE_FOR_MODEL", True)
            else None)
        return cls(model_path, crawler.stats, threshold,
                   started_crawl_worker(crawler) if in_batches else None,
                   stop=crawl_stopper(crawler), log_extra={"crawler": crawler})

    async def open_spider(self) -> None:
        if self._loading is not None:
            asyncio.wrap_future(self._loading).add_done_callback(self._loaded)

    def _loaded(self, loading: asyncio.Future) -> None:
        """The worker has loaded the model, or could not: then the crawl stops at once."""
        if loading.cancelled() or loading.exception() is None:
            return
        exc = loading.exception()
        if isinstance(exc, BrokenProcessPool):
            self.worker_lost(self.worker, exc)
            return
        logger.error("the model could not be loaded, stopping the crawl: %s", exc,
                     exc_info=exc, extra=self.log_extra)
        if self.stop is not None:
            self.stop("model_unavailable")

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("takedown"):
            return item
        text = f"{item['title']}\n{item['body_text']}"
        if self._batches is None:
            return self._apply(item, self.model.classify([text])[0].as_dict())
        return self._apply(item, await self._batches(text))

    def _apply(self, item: dict[str, Any], verdict: dict[str, Any]) -> dict[str, Any]:
        verdict["evidence"] = split_evidence(verdict["evidence"], len(item["title"]))
        item["verdict"] = verdict
        self.count("items/classified")
        if verdict["label"]:
            self.count("items/flagged")
        return item

    def _failed(self, exc: Exception, texts: list[str]) -> list[Exception] | None:
        """The worker process gone: the crawl stops and the batch's ads are dropped. Anything
        else fails only the ad at fault (the batch is scored again one ad at a time)."""
        if not isinstance(exc, BrokenProcessPool):
            return None
        self.worker_lost(self.worker, exc)
        return [DropItem("not scored: the pipeline worker process is gone") for _ in texts]
