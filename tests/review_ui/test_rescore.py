"""``tutorwatch rescore``: stored ads scored again with the promoted model, a new verdict each
(the earlier kept), pending items' priorities following."""

from __future__ import annotations

from django.core.management import call_command

from classifier import DEFAULT_MODEL_PATH, load_model
from review_ui import model_registry
from review_ui.models import Ad, AuditEvent, ReviewItem, Verdict
from tests.review_ui.conftest import make_item
from tests.review_ui.test_model_registry import model_file


def test_rescore_adds_a_verdict_from_the_promoted_model_and_reprioritizes(db, tmp_path, capsys):
    queued = make_item("http://127.0.0.1/post/1", score=0.2, label=1)  # a stale, low score
    decided = make_item("http://127.0.0.1/post/2", title="周末托管", score=0.9)
    item = ReviewItem.objects.get(ad_id=decided.ad_id)
    item.status = ReviewItem.Status.CONFIRMED
    item.save(update_fields=["status"])
    before = ReviewItem.objects.get(ad_id=queued.ad_id).priority
    model_registry.register_model(model_file(tmp_path, "rescorer", 0.99))
    call_command("model", "promote", "rescorer")

    call_command("rescore", "--pending")
    assert "rescored 1 ads with rescorer" in capsys.readouterr().out
    ad = Ad.objects.select_related("verdict").get(pk=queued.ad_id)
    assert ad.verdict.model_version == "rescorer"
    assert list(ad.verdicts.order_by("pk").values_list("model_version", flat=True)) == [
        "test-model", "rescorer"]
    expected = load_model(DEFAULT_MODEL_PATH).classify([f"{ad.title}\n{ad.text}"])[0]
    assert abs(ad.verdict.score - expected.score) < 1e-6
    assert ReviewItem.objects.get(ad_id=queued.ad_id).priority > before  # score 0.2 -> higher
    # The decided item's ad was not in --pending's scope.
    assert Ad.objects.get(pk=decided.ad_id).verdict.model_version == "test-model"
    # Each item's copy of its ad's score follows the new verdict (the queue's score orders).
    assert ReviewItem.objects.get(ad_id=queued.ad_id).score == ad.verdict.score
    assert ReviewItem.objects.get(ad_id=decided.ad_id).score == 0.9

    call_command("rescore")  # every ad with a verdict; the one already rescored is left alone
    out = capsys.readouterr().out
    assert "rescored 1 ads" in out and "1 already scored by it" in out
    assert Verdict.objects.filter(model_version="rescorer").count() == 2
    assert Verdict.objects.count() == 4
    decided_ad = Ad.objects.select_related("verdict").get(pk=decided.ad_id)
    assert decided_ad.verdict.model_version == "rescorer"
    assert ReviewItem.objects.get(ad_id=decided.ad_id).score == decided_ad.verdict.score != 0.9
    # Each run is audited: who ran it, with which version, how many ads.
    first, second = AuditEvent.objects.filter(action="model.rescored").order_by("pk")
    assert first.detail["by"] == model_registry.os_user() and first.actor is None
    assert (first.detail["version"], first.detail["scope"], first.detail["rescored"]) == (
        "rescorer", "pending", 1)
    assert (second.detail["scope"], second.detail["rescored"],
            second.detail["already_scored"]) == ("all", 1, 1)
