"""Claims: an officer claims an item, others see it and cannot decide it until it expires."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from review_ui.models import AuditEvent, Decision, ReviewItem
from tests.review_ui.conftest import CONFIRM, DISMISS

pytestmark = pytest.mark.django_db


def claim(client, item):
    return client.post(reverse("review_ui:claim", args=[item.pk]))


def test_an_officer_claims_an_item_and_the_others_see_it_claimed(
    officer_client, second_officer_client, officer, flagged
):
    item = ReviewItem.objects.get()
    assert claim(officer_client, item).status_code == 302
    item.refresh_from_db()
    assert item.claimed_by == officer and item.claim_is_live()
    queue_page = second_officer_client.get(reverse("review_ui:queue")).content.decode()
    assert "officer1 已认领" in queue_page
    ad_url = reverse("review_ui:ad", args=[flagged.ad_id])
    ad_page = second_officer_client.get(ad_url).content.decode()
    assert "由 officer1 认领" in ad_page
    assert 'class="decide"' not in ad_page  # no decision form for someone else's claim
    assert AuditEvent.objects.filter(action="item.claimed", actor=officer).count() == 1


def test_another_officers_claim_blocks_claiming_and_deciding_with_a_409(
    officer_client, second_officer_client, flagged
):
    item = ReviewItem.objects.get()
    claim(officer_client, item)
    response = claim(second_officer_client, item)
    assert response.status_code == 409 and "officer1" in response.content.decode()
    response = second_officer_client.post(reverse("review_ui:decide", args=[item.pk]), DISMISS)
    assert response.status_code == 409 and "officer1" in response.content.decode()
    assert ReviewItem.objects.get().status == "pending" and not Decision.objects.exists()
    # The holder decides.
    response = officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "confirmed" and item.claimed_by is None


@override_settings(TUTORWATCH_CLAIM_MINUTES=10)
def test_a_claim_expires_after_the_configured_time(
    officer_client, second_officer_client, second_officer, flagged
):
    item = ReviewItem.objects.get()
    claim(officer_client, item)
    ReviewItem.objects.filter(pk=item.pk).update(claimed_at=timezone.now() - timedelta(minutes=9))
    assert claim(second_officer_client, item).status_code == 409
    ReviewItem.objects.filter(pk=item.pk).update(claimed_at=timezone.now() - timedelta(minutes=11))
    assert "已认领" not in second_officer_client.get(reverse("review_ui:queue")).content.decode()
    assert claim(second_officer_client, item).status_code == 302
    assert ReviewItem.objects.get().claimed_by == second_officer


def test_an_officer_releases_their_claim_but_not_someone_elses(
    officer_client, second_officer_client, flagged
):
    item = ReviewItem.objects.get()
    claim(officer_client, item)
    release = reverse("review_ui:release", args=[item.pk])
    assert second_officer_client.post(release).status_code == 409
    assert ReviewItem.objects.get().claimed_by is not None
    assert officer_client.post(release).status_code == 302
    assert ReviewItem.objects.get().claimed_by is None
    assert AuditEvent.objects.filter(action="item.released").count() == 1


def test_a_supervisor_can_release_anyones_claim(officer_client, supervisor_client, flagged):
    item = ReviewItem.objects.get()
    claim(officer_client, item)
    assert supervisor_client.post(reverse("review_ui:release", args=[item.pk])).status_code == 302
    assert ReviewItem.objects.get().claimed_by is None


def test_claiming_a_decided_item_is_a_409(officer_client, second_officer_client, flagged):
    item = ReviewItem.objects.get()
    officer_client.post(reverse("review_ui:decide", args=[item.pk]), CONFIRM)
    assert claim(second_officer_client, item).status_code == 409
    assert ReviewItem.objects.get().claimed_by is None


def test_claimed_by_me_filter_lists_only_my_claims(officer_client, second_officer_client):
    from tests.review_ui.conftest import make_item

    mine = make_item(url="http://127.0.0.1/mine", title="我认领的")
    make_item(url="http://127.0.0.1/theirs", title="别人的")
    claim(officer_client, ReviewItem.objects.get(ad_id=mine.ad_id))
    page = officer_client.get(reverse("review_ui:queue"), {"mine": "on"}).content.decode()
    assert "我认领的" in page and "别人的" not in page
