"""The classify stage of the item pipelines, with the shipped model."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from scrapy.settings import Settings

from classifier import DEFAULT_MODEL_PATH
from crawler.pipelines import ClassifyPipeline

AD = {"title": "小学数学一对一辅导", "body_text": "周末上门辅导，提分快。电话 13912345678"}


def test_the_flag_threshold_setting_replaces_the_models_own():
    own = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())["threshold"]
    # As `-s TUTORWATCH_FLAG_THRESHOLD=0.9999` gives it: a string.
    crawler = SimpleNamespace(settings=Settings({"TUTORWATCH_FLAG_THRESHOLD": "0.9999"}),
                              stats=None)
    pipeline = ClassifyPipeline.from_crawler(crawler)
    verdict = pipeline.process_item(dict(AD))["verdict"]
    assert own < verdict["score"] < 0.9999  # flagged by the model's own threshold, not by this
    assert verdict["label"] == 0


def test_a_flag_threshold_outside_0_to_1_stops_the_crawl_at_start():
    with pytest.raises(ValueError, match="TUTORWATCH_FLAG_THRESHOLD must be between 0 and 1"):
        ClassifyPipeline(threshold=1.5)
