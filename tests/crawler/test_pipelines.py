"""The classify stage of the item pipelines, with the shipped model, the store stage's
batches, with a real database, and what every stage (and the extensions they use) does with a
spider that is not a tutorwatch source."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import shutil
from types import SimpleNamespace

import pytest
import scrapy
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from classifier import DEFAULT_MODEL_PATH
from crawler.config import bundled_sources
from crawler.extensions.jobdir import CrashSafeJobDir
from crawler.extensions.pipeline_worker import PipelineWorkerExtension
from crawler.extensions.runs import CrawlRunRecorder
from crawler.incremental import IncrementalMiddleware
from crawler.pipelines import (
    ClassifyPipeline,
    CleanTextPipeline,
    ContactsPipeline,
    StorePipeline,
)
from crawler.pipelines.batches import Batches
from crawler.pipelines.classify import loaded_model
from crawler.pipelines.worker import PipelineWorker, fork_available
from crawler.spiders import spider_for

AD = {"title": "小学数学一对一辅导", "body_text": "周末上门辅导，提分快。电话 13912345678"}
STAGES = (CleanTextPipeline, ContactsPipeline, ClassifyPipeline, StorePipeline)


def source_spider() -> type[scrapy.Spider]:
    return spider_for(bundled_sources()["sandbox_forum"])


def classify(pipeline: ClassifyPipeline, item: dict) -> dict:
    return asyncio.run(pipeline.process_item(item))


def test_the_flag_threshold_setting_replaces_the_models_own(db):  # the stage asks the store
    own = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())["threshold"]
    # As `-s TUTORWATCH_FLAG_THRESHOLD=0.9999` gives it: a string.
    crawler = SimpleNamespace(settings=Settings({"TUTORWATCH_FLAG_THRESHOLD": "0.9999"}),
                              stats=None, spidercls=source_spider())
    pipeline = ClassifyPipeline.from_crawler(crawler)
    verdict = classify(pipeline, dict(AD))["verdict"]
    assert own < verdict["score"] < 0.9999  # flagged by the model's own threshold, not by this
    assert verdict["label"] == 0


def test_a_flag_threshold_outside_0_to_1_stops_the_crawl_at_start():
    with pytest.raises(ValueError, match="TUTORWATCH_FLAG_THRESHOLD must be between 0 and 1"):
        ClassifyPipeline(threshold=1.5)


def _store_pipeline() -> StorePipeline:
    from review_ui.store import Store

    stats = MemoryStatsCollector(SimpleNamespace(settings=Settings()))
    return StorePipeline(Store(), PipelineWorker(process=False), stats=stats)


def _crawled(n: int) -> dict:
    return {"url": f"http://127.0.0.1/ad/{n}", "source": "pipeline_site",
            "title": f"周末托管 {n} 号", "body_text": f"小学生周末托管，午餐午休，第 {n} 期。",
            "phones": [], "wechat_ids": [], "raw_body": b"<p>raw</p>",
            "verdict": {"score": 0.2, "label": 0, "category": "", "evidence": [],
                        "model_version": "test-model"}}


def _process_together(pipeline: StorePipeline, items: list[dict]) -> list:
    """Hand every item to the store stage at once, as a busy crawl does."""
    async def run() -> list:
        try:
            return await asyncio.gather(*(pipeline.process_item(item) for item in items),
                                        return_exceptions=True)
        finally:
            await pipeline.worker.call(pipeline.store.close)  # the store thread's connection

    try:
        return asyncio.run(run())
    finally:
        pipeline.worker.shutdown()


@pytest.mark.django_db(transaction=True)
def test_ads_that_arrive_while_the_store_is_busy_share_a_transaction():
    from review_ui.models import Ad

    pipeline = _store_pipeline()
    items = [_crawled(n) for n in range(130)]
    results = _process_together(pipeline, items)
    assert results == items
    assert Ad.objects.count() == 130
    stats = pipeline.stats.get_stats()
    assert stats["tutorwatch/items/stored/new"] == 130
    assert stats["tutorwatch/store/transactions"] == 2  # 100 and 30 (BATCH_SIZE is 100)


@pytest.mark.django_db(transaction=True)
def test_an_ad_the_store_cannot_take_fails_alone_and_its_batch_is_stored():
    from review_ui.models import Ad

    pipeline = _store_pipeline()
    items = [_crawled(n) for n in range(5)]
    del items[2]["source"]
    results = _process_together(pipeline, items)
    assert isinstance(results[2], KeyError)
    assert [r is item for r, item in zip(results, items, strict=True)] == [
        True, True, False, True, True]
    assert sorted(Ad.objects.values_list("url", flat=True)) == sorted(
        item["url"] for n, item in enumerate(items) if n != 2)


def _sandbox_ads() -> list[dict]:
    from crawler.sandbox.server import load_posts

    return [{"title": post["title"], "body_text": post["body"]}
            for post in load_posts("classified") + load_posts("forum")]


def _score_together(pipeline: ClassifyPipeline, items: list[dict]) -> list[dict]:
    pipeline.worker.start()

    async def run() -> list:
        return await asyncio.gather(*(pipeline.process_item(dict(item)) for item in items))

    try:
        return asyncio.run(run())
    finally:
        pipeline.worker.shutdown()


def test_ads_scored_in_batches_get_the_verdicts_they_get_one_by_one():
    items = _sandbox_ads()
    one_by_one = ClassifyPipeline()
    expected = [classify(one_by_one, dict(item))["verdict"] for item in items]

    batched = ClassifyPipeline(worker=PipelineWorker(process=False))
    calls = []
    work = batched._batches.work
    batched._batches.work = lambda texts: calls.append(len(texts)) or work(texts)
    scored = _score_together(batched, items)
    assert [item["verdict"] for item in scored] == expected
    assert calls == [len(items)]  # all came while none was scored yet: one batch


@pytest.mark.skipif(not fork_available(), reason="this system cannot fork a worker process")
def test_ads_scored_in_a_worker_process_get_the_verdicts_they_get_in_the_crawl_process():
    items = _sandbox_ads()
    one_by_one = ClassifyPipeline()
    expected = [classify(one_by_one, dict(item))["verdict"] for item in items]

    worker = PipelineWorker(process=True)
    worker.start()
    child = worker.pid
    scored = _score_together(ClassifyPipeline(worker=worker), items)
    assert child is not None and child != os.getpid()
    assert [item["verdict"] for item in scored] == expected


@pytest.mark.skipif(not fork_available(), reason="this system cannot fork a worker process")
def test_scoring_in_a_worker_process_the_crawl_process_never_loads_the_model(tmp_path):
    # A copy of the shipped model: a file no other test has loaded in this process.
    for part in DEFAULT_MODEL_PATH.parent.glob(f"{DEFAULT_MODEL_PATH.stem}.*"):
        shutil.copy(part, tmp_path / part.name)
    model = tmp_path / DEFAULT_MODEL_PATH.name
    loaded = loaded_model.cache_info().currsize
    items = _sandbox_ads()[:5]
    expected = [classify(ClassifyPipeline(), dict(item))["verdict"] for item in items]

    pipeline = ClassifyPipeline(str(model), worker=PipelineWorker(process=True))
    assert pipeline.model is None
    scored = _score_together(pipeline, items)
    assert [item["verdict"] for item in scored] == expected
    assert loaded_model.cache_info().currsize == loaded


def test_a_model_the_worker_cannot_load_stops_the_crawl(tmp_path):
    broken = tmp_path / "broken.skops"
    broken.write_bytes(b"not a model")
    stopped: list[str] = []
    pipeline = ClassifyPipeline(str(broken), worker=PipelineWorker(process=False),
                                stop=stopped.append)

    async def run() -> None:
        await pipeline.open_spider()
        with pytest.raises(Exception):  # noqa: B017 - whatever the classifier raises
            await asyncio.wrap_future(pipeline._loading)
        await asyncio.sleep(0)  # the stage's callback runs after the waiter's

    try:
        asyncio.run(asyncio.wait_for(run(), timeout=60))
    finally:
        pipeline.worker.shutdown()
    assert stopped == ["model_unavailable"]


def test_a_model_file_that_does_not_exist_stops_the_crawl_at_start(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        ClassifyPipeline(str(tmp_path / "gone.skops"), worker=PipelineWorker(process=False))


def test_a_batch_whose_work_goes_wrong_fails_its_ads_and_the_next_batch_still_runs():
    worker = PipelineWorker(process=False)
    batches = Batches(worker, lambda elements: elements[:-1] if len(elements) > 2 else elements,
                       size=3)  # a batch of 3 gets 2 results back: a bug

    async def run() -> list:
        return await asyncio.gather(*(batches(n) for n in range(5)), return_exceptions=True)

    try:
        results = asyncio.run(asyncio.wait_for(run(), timeout=30))
    finally:
        worker.shutdown()
    assert [type(r).__name__ for r in results[:3]] == ["ValueError"] * 3
    assert results[3:] == [3, 4]


def _session() -> tuple[int, int]:
    """(this process, its database session: PostgreSQL's backend pid, else 0) after a query."""
    from django.db import connection

    from review_ui.models import Ad

    Ad.objects.count()
    if connection.vendor != "postgresql":
        return os.getpid(), 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return os.getpid(), cursor.fetchone()[0]


@pytest.mark.skipif(not fork_available(), reason="this system cannot fork a worker process")
@pytest.mark.django_db(transaction=True)
def test_the_worker_process_opens_its_own_database_session_and_leaves_the_crawls_alone():
    from django.db import transaction

    from review_ui.store import Store

    store = Store()
    worker = PipelineWorker(process=True)
    try:
        # An idle connection is closed before the fork; one inside a transaction cannot be,
        # and crosses it: the child must leave it alone.
        with transaction.atomic():
            before = _session()
            worker.start(store.before_fork, store.in_forked_child)
            child = asyncio.run(worker.call(_session))
            again = asyncio.run(worker.call(_session))
            after = _session()
    finally:
        worker.shutdown()
    assert child[0] != before[0] and again == child
    if before[1]:
        assert child[1] != before[1]
    assert after == before  # the same session, still working after the child used the database


def test_every_stage_processes_items_as_a_coroutine():
    # Scrapy 2.14 deprecates a process_item that returns a Deferred (a warning in every crawl).
    for stage in STAGES:
        assert inspect.iscoroutinefunction(stage.process_item), stage.__name__
        assert list(inspect.signature(stage.process_item).parameters) == ["self", "item"]


class Bare(scrapy.Spider):
    name = "bare"


def _fetch_one(spidercls: type[scrapy.Spider]) -> type[scrapy.Spider]:
    """``spidercls`` as ``scrapy fetch --spider NAME URL`` leaves it: its start replaced."""
    async def start(self):
        yield scrapy.Request("http://127.0.0.1/")

    spidercls.start = start
    return spidercls


@pytest.mark.parametrize("spidercls", [Bare, scrapy.Spider, _fetch_one(source_spider())],
                         ids=["runspider", "shell_default", "fetch_with_a_source_spider"])
def test_tutorwatch_components_turn_themselves_off_for_a_crawl_that_is_not_of_a_source(
        spidercls, tmp_path):
    loaded = loaded_model.cache_info().currsize
    crawler = SimpleNamespace(settings=Settings({"JOBDIR": str(tmp_path)}), stats=None,
                              spidercls=spidercls, signals=None)
    for component in (*STAGES, IncrementalMiddleware, CrashSafeJobDir, PipelineWorkerExtension,
                      CrawlRunRecorder):
        with pytest.raises(NotConfigured):
            component.from_crawler(crawler)
    assert loaded_model.cache_info().currsize == loaded  # no model was loaded for it


def test_a_source_spider_crawling_from_its_own_start_is_a_crawl_of_the_source():
    from crawler.spiders.base import crawls_a_source

    assert crawls_a_source(source_spider())
    assert not crawls_a_source(Bare)
    assert not crawls_a_source(None)
