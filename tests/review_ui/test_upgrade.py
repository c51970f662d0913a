"""The upgrade procedure of docs/deploy.md on a store with data in it: a store made by an earlier
release's migrations (0010, before screenshots, submissions and search terms) is migrated to
this release's, and its ads, verdicts, review items, decisions and audit chain come through."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from review_ui import audit_chain
from review_ui.exports import write_jsonl

EARLIER = [("review_ui", "0010_model_versions")]


@pytest.mark.slow
@pytest.mark.pg
@pytest.mark.django_db(transaction=True)
def test_a_store_made_by_an_earlier_release_is_migrated_with_its_data():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(EARLIER)
    try:
        old = MigrationExecutor(connection).loader.project_state(EARLIER).apps
        Source, Ad = old.get_model("review_ui", "Source"), old.get_model("review_ui", "Ad")
        Verdict = old.get_model("review_ui", "Verdict")
        ReviewItem = old.get_model("review_ui", "ReviewItem")
        Decision = old.get_model("review_ui", "Decision")
        AuditEvent = old.get_model("review_ui", "AuditEvent")
        User = old.get_model("auth", "User")
        officer = User.objects.create(username="officer1")
        source = Source.objects.create(name="county", kind="html", config={"name": "county"})
        now = timezone.now()
        ad = Ad.objects.create(url="http://127.0.0.1/post/1", source=source, title="初中数学辅导",
                               text="寒假一对一，电话 13912345678", fetched_at=now,
                               phones=["13912345678"], raw_page=b"<html>1</html>",
                               raw_sha256="a" * 64)
        verdict = Verdict.objects.create(ad=ad, score=0.91, label=True, category="open_tutoring",
                                         evidence=["一对一"], model_version="old-model")
        Ad.objects.filter(pk=ad.pk).update(verdict=verdict)
        item = ReviewItem.objects.create(ad=ad, status="confirmed", priority=0.9,
                                         reason="open_tutoring", decided_by=officer,
                                         decided_at=now)
        Decision.objects.create(item=item, officer=officer, decision="confirmed",
                                reason="open_tutoring", decided_at=now)
        event = AuditEvent(action="item.decided", ad_id=ad.pk, item_id=item.pk, actor=officer,
                           detail={"decision": "confirmed"})
        with transaction.atomic():
            audit_chain.seal(AuditEvent, [event], "default")
            event.save(force_insert=True)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    from review_ui.models import Ad as CurrentAd
    from review_ui.models import AuditEvent as CurrentEvent

    upgraded = CurrentAd.objects.get(url="http://127.0.0.1/post/1")
    assert upgraded.text == "寒假一对一，电话 13912345678" and upgraded.purged_at is None
    assert upgraded.review_item.status == "confirmed"
    assert upgraded.review_item.score == 0.91  # filled from the verdict (0023)
    assert upgraded.review_item.decisions.get().officer.username == "officer1"
    assert list(upgraded.screenshots.all()) == []
    rows = io.BytesIO()
    assert write_jsonl(rows) == 1 and b'"status": "confirmed"' in rows.getvalue()
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    last = CurrentEvent.objects.order_by("-pk").first()
    assert f"{last.pk}" in out.getvalue() and last.action == "item.decided"
