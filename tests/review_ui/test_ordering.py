"""The queue's "most informative first" order (issue 16 point 6): the scores nearest the model's
threshold first, in the review UI and in the API (``order=uncertain``)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from review_ui.models import ReviewItem
from review_ui.ordering import model_threshold, ordered
from tests.review_ui.conftest import make_item

pytestmark = pytest.mark.django_db

SCORES = {"far": 0.99, "near": 0.66, "middle": 0.8, "below": 0.55}


@pytest.fixture
def scored(settings):
    settings.TUTORWATCH_FLAG_THRESHOLD = 0.65
    for name, score in SCORES.items():
        make_item(url=f"http://127.0.0.1/{name}", title=f"广告 {name}", score=score)


def names(rows) -> list[str]:
    return [row.rsplit("/", 1)[1] for row in rows]


def test_uncertain_puts_the_scores_nearest_the_threshold_first(scored):
    items = ordered(ReviewItem.objects.all(), "uncertain")
    assert names(items.values_list("ad__url", flat=True)) == ["near", "below", "middle", "far"]
    by_priority = ordered(ReviewItem.objects.all(), None)
    assert names(by_priority.values_list("ad__url", flat=True))[0] == "far"


def test_the_queue_page_offers_both_orders(scored, officer_client):
    page = officer_client.get(reverse("review_ui:queue"), {"order": "uncertain"})
    assert page.status_code == 200
    html = page.content.decode()
    positions = [html.index(f"广告 {name}") for name in ("near", "below", "middle")]
    assert positions == sorted(positions)
    assert officer_client.get(reverse("review_ui:queue"), {"order": "oldest"}).status_code == 400


def test_the_api_takes_order_uncertain(scored, officer):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(officer)
    rows = client.get(reverse("api:items"), {"order": "uncertain"}).json()["results"]
    assert [row["score"] for row in rows] == [0.66, 0.55, 0.8, 0.99]
    assert client.get(reverse("api:items"), {"order": "nearest"}).status_code == 400


def test_the_threshold_is_the_model_files_own(settings, tmp_path):
    settings.TUTORWATCH_FLAG_THRESHOLD = None
    model = tmp_path / "candidate.skops"
    model.write_bytes(b"")
    (tmp_path / "candidate.json").write_text(json.dumps({"threshold": 0.42}))
    settings.TUTORWATCH_MODEL = str(model)
    assert model_threshold() == 0.42
