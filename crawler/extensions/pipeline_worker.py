"""The crawl's pipeline worker (:mod:`crawler.pipelines.worker`), as an extension: one per crawl
of a source, shared by the classify and store stages and by the run's heartbeats, so that ads
pile up for the classifier while the store writes, and both batch.

The stages find it with ``crawler.get_extension(PipelineWorkerExtension)``; the first of them
built (the classify stage, else the store stage) starts it (:func:`started_crawl_worker`: forks
the child once the store is set up). It is shut down when the crawl closes, after the stages'
last batches. Off for any crawl that is not of a source.

Settings: ``TUTORWATCH_PIPELINE_PROCESS`` (a child process; off: a thread of the crawl).
"""

from __future__ import annotations

from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from crawler.pipelines.base import for_sources_only
from crawler.pipelines.worker import PipelineWorker
from review_ui.store import Store


class PipelineWorkerExtension:
    def __init__(self, process: bool = True) -> None:
        self.worker = PipelineWorker(process=process)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PipelineWorkerExtension:
        for_sources_only(crawler)
        extension = cls(crawler.settings.getbool("TUTORWATCH_PIPELINE_PROCESS"))
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider: Any) -> None:
        # Synchronous: nothing else of the crawl (a heartbeat) runs until the worker is done.
        self.worker.shutdown()


def crawl_worker(crawler: Crawler) -> PipelineWorker:
    """The crawl's pipeline worker; an error at start when its extension is not enabled."""
    extension = crawler.get_extension(PipelineWorkerExtension)
    if extension is None:
        raise RuntimeError("the classify and store stages need the extension "
                           "crawler.extensions.pipeline_worker.PipelineWorkerExtension "
                           "(EXTENSIONS in crawler/settings.py)")
    return extension.worker


def started_crawl_worker(crawler: Crawler) -> PipelineWorker:
    """The crawl's pipeline worker, its process forked now if not yet. Scrapy builds every
    crawl's pipelines before its reactor starts, so no other thread exists; the store's idle
    connections are closed first, and the child opens its own."""
    worker = crawl_worker(crawler)
    store = Store()
    worker.start(store.before_fork, store.in_forked_child)
    return worker
