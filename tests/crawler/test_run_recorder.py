"""The run recorder extension (``crawler.extensions.runs``), built from plain values: it records
the crawl's run through the store when the crawl opens, announces it, and records its end."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from crawler.extensions.runs import CrawlRunRecorder
from crawler.pipelines.worker import PipelineWorker

pytestmark = pytest.mark.django_db(transaction=True)
SPIDER = SimpleNamespace(source=SimpleNamespace(raw={"name": "county_forum", "kind": "html"},
                                                path="/tmp/county_forum.yaml"))


def recorder(**values) -> tuple[CrawlRunRecorder, list[int], PipelineWorker]:
    from review_ui.store import Store

    announced: list[int] = []
    worker = PipelineWorker(process=False)
    made = CrawlRunRecorder(Store(), worker=lambda: worker, announce=announced.append, **values)
    return made, announced, worker


def test_a_crawl_is_recorded_as_a_run_from_its_start_to_its_end():
    from review_ui.models import CrawlRun

    made, announced, worker = recorder(purpose="recheck", trigger="scheduled")
    try:
        asyncio.run(made.spider_opened(SPIDER))
        run = CrawlRun.objects.get()
        assert announced == [run.pk] and made.run_id == run.pk
        assert (run.status, run.kind, run.trigger) == ("running", "recheck", "scheduled")
        asyncio.run(made.spider_closed(SPIDER, "shutdown"))
    finally:
        worker.shutdown()
    run.refresh_from_db()
    assert (run.status, run.finish_reason) == ("interrupted", "shutdown")


def test_a_run_started_elsewhere_is_announced_and_left_to_its_owner():
    from review_ui.models import CrawlRun

    made, announced, worker = recorder(run_id=4242)
    try:
        asyncio.run(made.spider_opened(SPIDER))
        asyncio.run(made.spider_closed(SPIDER, "finished"))
    finally:
        worker.shutdown()
    assert announced == [4242]
    assert not CrawlRun.objects.exists()


def test_a_start_that_cannot_be_recorded_stops_the_crawl():
    from review_ui import runs

    first = runs.start_run(SPIDER.source.raw)  # this process is alive: the source is busy
    stopped: list[str] = []
    made, announced, worker = recorder(stop=stopped.append)
    try:
        asyncio.run(made.spider_opened(SPIDER))
        asyncio.run(made.spider_closed(SPIDER, "run_not_recorded"))
    finally:
        worker.shutdown()
    assert stopped == ["run_not_recorded"] and announced == [] and made.run_id is None
    assert runs.run_is_running(first)
