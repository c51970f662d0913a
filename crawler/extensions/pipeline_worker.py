"""The crawl's pipeline worker (:mod:`crawler.pipelines.worker`), as an extension: one per crawl
of a source, shared by the classify and store stages and by the run's heartbeats, so that ads
pile up for the classifier while the store writes, and both batch.

The stages find it with ``crawler.get_extension(PipelineWorkerExtension)``; the store stage
starts it (forks the child) once the model and the store are ready. It is shut down when the
crawl closes, after the stages' last batches. Off for any crawl that is not of a source.

Settings: ``TUTORWATCH_PIPELINE_PROCESS`` (a child process; off: a thread of the crawl).
"""

from __future__ import annotations

from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from crawler.pipelines.base import for_sources_only
from crawler.pipelines.worker import PipelineWorker


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
