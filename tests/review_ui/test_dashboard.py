"""The supervisors' dashboard: weekly, per-source and per-form figures, confirm rate, queue age."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from review_ui import dashboard
from review_ui.models import ReviewItem
from tests.review_ui.conftest import CONFIRM, DISMISS, make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked(officer_client):
    for i in range(4):
        make_item(url=f"http://127.0.0.1/t{i}", title=f"广告{i}")
    make_item(url="http://127.0.0.1/f", source="forum_site",
              verdict={"score": 0.8, "label": 1, "category": "tuoguan", "evidence": [],
                       "model_version": "m"})
    items = list(ReviewItem.objects.order_by("pk"))
    officer_client.post(reverse("review_ui:decide", args=[items[0].pk]), CONFIRM)
    officer_client.post(reverse("review_ui:decide", args=[items[1].pk]),
                        {"decision": "escalated", "reason": "online"})
    officer_client.post(reverse("review_ui:decide", args=[items[2].pk]), DISMISS)
    # One item has waited ten days.
    ReviewItem.objects.filter(pk=items[3].pk).update(created_at=timezone.now() - timedelta(days=10))
    return items


def test_the_figures_count_flagged_confirmed_and_the_confirm_rate(worked):
    figures = dashboard.build()
    assert (figures.total.flagged, figures.total.confirmed, figures.total.dismissed) == (5, 2, 1)
    assert figures.total.confirm_rate == pytest.approx(2 / 3)
    sources = {row.key: row for row in figures.sources}
    assert (sources["test_site"].flagged, sources["forum_site"].flagged) == (4, 1)
    categories = {row.key: row for row in figures.categories}
    assert categories["tuoguan"].pending == 1 and categories["open_tutoring"].confirmed == 2
    assert figures.pending == 2
    assert [n for _label, n in figures.age_buckets] == [1, 0, 0, 1]
    this_week = figures.weeks[-1]
    assert (this_week.flagged, this_week.confirmed, this_week.dismissed) == (4, 2, 1)
    assert sum(week.flagged for week in figures.weeks) == 5
    assert figures.oldest_pending < timezone.now() - timedelta(days=9)


def test_the_dashboard_page_draws_its_charts_without_script(supervisor_client, worked):
    response = supervisor_client.get(reverse("review_ui:dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" in page and "<script" not in page
    assert "67%" in page  # confirm rate
    assert "forum_site" in page and "托管" in page


def test_the_dashboard_is_for_supervisors(officer_client, outsider_client, worked):
    assert officer_client.get(reverse("review_ui:dashboard")).status_code == 403
    assert outsider_client.get(reverse("review_ui:dashboard")).status_code == 403


def test_the_figures_are_kept_for_the_set_time_and_then_built_again(
        supervisor_client, worked, settings, monkeypatch):
    from django.core.cache import cache

    cache.delete(dashboard.CACHE_KEY)
    settings.TUTORWATCH_DASHBOARD_SECONDS = 60
    built = []
    real_build = dashboard.build
    monkeypatch.setattr(dashboard, "build", lambda *a, **k: built.append(1) or real_build(*a, **k))
    first = dashboard.recent()
    make_item(url="http://127.0.0.1/later", title="后来的广告")
    assert dashboard.recent() is not None and len(built) == 1  # kept: the new ad not counted yet
    assert dashboard.recent().total.flagged == first.total.flagged == 5
    clock = dashboard.time.time() + 61
    monkeypatch.setattr(dashboard.time, "time", lambda: clock)
    assert dashboard.recent().total.flagged == 6 and len(built) == 2
    cache.delete(dashboard.CACHE_KEY)
