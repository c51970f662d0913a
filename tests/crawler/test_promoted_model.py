"""A crawl classifies with the model version promoted in the store, unless ``TUTORWATCH_MODEL``
names a file; its verdicts record that version, and so does the store."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from scrapy.settings import Settings

from classifier import DEFAULT_MODEL_PATH, ModelLoadError, load_model
from crawler.config import bundled_sources
from crawler.pipelines import ClassifyPipeline
from crawler.spiders import spider_for
from review_ui import model_registry
from review_ui.models import Ad
from review_ui.store import Store
from tests.review_ui.test_model_registry import model_file

AD = {"url": "http://127.0.0.1/post/promoted", "source": "sandbox_forum",
      "title": "小学数学一对一辅导", "body_text": "周末上门辅导，提分快。电话 13912345678",
      "fetched_at": "2026-11-01T10:00:00+08:00", "phones": [], "wechat_ids": [],
      "raw_body": b"<p>raw</p>"}


def pipeline(settings: dict) -> ClassifyPipeline:
    crawler = SimpleNamespace(settings=Settings(settings), stats=None,
                              spidercls=spider_for(bundled_sources()["sandbox_forum"]))
    return ClassifyPipeline.from_crawler(crawler)


@pytest.fixture
def promoted(db, tmp_path):
    path = model_file(tmp_path, "promoted-v2", test_f1=0.99)
    model_registry.register_model(path)
    call_command("model", "promote", "promoted-v2")
    return path


def test_a_crawl_classifies_with_the_promoted_version_and_stores_it(promoted):
    shipped = load_model(DEFAULT_MODEL_PATH).version
    item = asyncio.run(pipeline({}).process_item(dict(AD)))
    assert item["verdict"]["model_version"] == "promoted-v2" != shipped
    Store().ingest([item])
    assert Ad.objects.get(url=AD["url"]).verdicts.get().model_version == "promoted-v2"


def test_an_explicit_model_setting_wins(promoted):
    item = asyncio.run(pipeline({"TUTORWATCH_MODEL": str(DEFAULT_MODEL_PATH)})
                       .process_item(dict(AD)))
    assert item["verdict"]["model_version"] == load_model(DEFAULT_MODEL_PATH).version


def test_without_a_promoted_version_the_shipped_model_is_used(db):
    assert pipeline({}).model.version == load_model(DEFAULT_MODEL_PATH).version


def test_a_promoted_file_changed_since_it_was_registered_stops_the_crawl(promoted):
    with promoted.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelLoadError, match="no longer matches"):
        pipeline({})


def test_the_classify_command_uses_the_promoted_version(promoted, tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text('{"id": 1, "text": "小学数学一对一辅导"}\n', encoding="utf-8")
    call_command("classify", str(source), "-o", str(out))
    assert json.loads(out.read_text(encoding="utf-8"))["model_version"] == "promoted-v2"
