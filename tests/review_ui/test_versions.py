"""Incremental crawling in the store: earlier versions kept, takedowns recorded, due dates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from review_ui.models import Ad, AdVersion, AuditEvent, ReviewItem
from review_ui.store import rechecks
from tests.review_ui.conftest import make_item

pytestmark = pytest.mark.django_db
URL = "http://127.0.0.1/post/1"


def test_a_changed_ad_keeps_its_earlier_version_as_evidence():
    first = make_item(url=URL, text="周末上门辅导，提分快。")
    second = make_item(url=URL, text="本店转让，联系电话。", raw_body=b"<html>v2</html>")
    assert second.outcome == "updated" and second.changed
    ad = Ad.objects.get(pk=first.ad_id)
    assert ad.text == "本店转让，联系电话。" and ad.changed_at is not None
    [version] = AdVersion.objects.filter(ad=ad)
    assert version.number == 1 and version.text == "周末上门辅导，提分快。"
    assert bytes(version.raw_page) == b"<html>raw</html>"
    assert version.seen_until == ad.changed_at
    assert version.verdict is not None
    event = AuditEvent.objects.get(action="ad.updated")
    assert event.detail["earlier_version"] == 1


def test_an_unchanged_refetch_keeps_no_version():
    make_item(url=URL)
    assert make_item(url=URL).outcome == "unchanged"
    assert AdVersion.objects.count() == 0


def test_a_takedown_is_recorded_once_with_its_time_and_the_content_kept():
    made = make_item(url=URL)
    assert rechecks.record_takedown(URL, "http_404", run_id=None)
    assert not rechecks.record_takedown(URL, "http_404")
    ad = Ad.objects.get(pk=made.ad_id)
    assert ad.removal == "http_404" and ad.removed_at is not None and ad.text
    assert AuditEvent.objects.filter(action="ad.removed").count() == 1
    assert not rechecks.record_takedown("http://127.0.0.1/never-stored", "gone")
    with pytest.raises(ValueError):
        rechecks.record_takedown(URL, "vanished")


def test_a_taken_down_ad_that_comes_back_is_recorded_as_back():
    make_item(url=URL)
    rechecks.record_takedown(URL, "gone")
    result = make_item(url=URL)
    assert result.reappeared
    ad = Ad.objects.get()
    assert ad.removed_at is None and ad.removal == ""
    assert AuditEvent.objects.filter(action="ad.reappeared").count() == 1


def test_stored_urls_say_which_are_due():
    make_item(url="http://127.0.0.1/fresh")
    make_item(url="http://127.0.0.1/old")
    make_item(url="http://127.0.0.1/gone")
    Ad.objects.filter(url__endswith="/old").update(checked_at=timezone.now() - timedelta(days=40))
    rechecks.record_takedown("http://127.0.0.1/gone", "http_410")
    stored = rechecks.stored_urls("test_site", timedelta(days=30))
    assert stored == {"http://127.0.0.1/fresh": False, "http://127.0.0.1/old": True,
                      "http://127.0.0.1/gone": True}
    assert rechecks.stored_urls("other_site", timedelta(days=30)) == {}


def test_flagged_and_confirmed_ads_are_due_for_rechecks_but_not_dismissed_or_gone_ones():
    # Texts that differ, so the four ads are not grouped as near-copies of each other.
    texts = {
        "pending": "周六初二数学小班 名额三个 电话联系",
        "confirmed": "暑假英语一对一 上门 高一高二",
        "dismissed": "晚托班 作业讲解 小学三到六年级 包晚饭",
        "gone": "物理化学冲刺 初三 周日全天 拼班",
    }
    for name, text in texts.items():
        make_item(url=f"http://127.0.0.1/{name}", text=text)
    make_item(url="http://127.0.0.1/unflagged", text="出租两室一厅 近地铁 拎包入住",
              score=0.1, label=0)
    for name in ("confirmed", "dismissed"):
        ReviewItem.objects.filter(ad__url__endswith=f"/{name}").update(status=name)
    rechecks.record_takedown("http://127.0.0.1/gone", "http_404")
    later = timezone.now() + timedelta(hours=25)
    due = rechecks.due_rechecks("test_site", timedelta(hours=24), now=later)
    assert sorted(due) == ["http://127.0.0.1/confirmed", "http://127.0.0.1/pending"]
    assert rechecks.due_rechecks("test_site", timedelta(hours=24)) == []


def test_the_ad_page_shows_the_takedown_and_earlier_versions(officer_client):
    made = make_item(url=URL, text="第一版<b>文本</b>")
    make_item(url=URL, text="第二版文本")
    rechecks.record_takedown(URL, "http_404")
    page = officer_client.get(reverse("review_ui:ad", args=[made.ad_id])).content.decode()
    assert "已下架" in page and "http_404" in page
    assert "历史版本" in page and "第一版&lt;b&gt;文本&lt;/b&gt;" in page
