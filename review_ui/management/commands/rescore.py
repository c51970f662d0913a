"""``tutorwatch rescore [--pending]``: score stored ads again with the model in use (the file
``TUTORWATCH_MODEL`` names, else the promoted version, else the shipped model).

Every ad with a verdict, or with ``--pending`` the ads of pending review items and their
copies, gets a new verdict row (the earlier ones are kept) that becomes its current verdict, and
the pending items' priorities follow. Ads whose current verdict already comes from this model
version are left alone. Each batch is one transaction. An audit row (``model.rescored``) records
who ran it (the OS user), with which version, and how many ads it rescored."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q

from crawler.pipelines.classify import split_evidence
from review_ui.models import Ad, AuditEvent, ReviewItem, Verdict
from review_ui.store.review_items import reprioritize

BATCH = 256


class Command(BaseCommand):
    help = "Score stored ads again with the promoted model, keeping their earlier verdicts."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--pending", action="store_true",
                            help="only the ads of pending review items (and their copies)")

    def handle(self, *args: Any, **options: Any) -> None:
        from classifier import ModelLoadError, load_model
        from review_ui.model_registry import current_model_path, os_user

        try:
            model = load_model(getattr(settings, "TUTORWATCH_MODEL", None) or current_model_path())
        except ModelLoadError as exc:
            raise CommandError(str(exc)) from None
        ads = Ad.objects.filter(verdict__isnull=False)
        if options["pending"]:
            pending = ReviewItem.objects.filter(status=ReviewItem.Status.PENDING)
            ads = ads.filter(Q(pk__in=pending.values("ad_id"))
                             | Q(duplicate_group_id__in=pending.exclude(
                                 ad__duplicate_group=None).values("ad__duplicate_group_id")))
        todo = ads.exclude(verdict__model_version=model.version)
        current = ads.count() - todo.count()
        rescored = flipped = 0
        ids = list(todo.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), BATCH):
            with transaction.atomic():
                batch = list(Ad.objects.select_for_update(of=("self",))
                             .filter(pk__in=ids[start:start + BATCH])
                             .select_related("verdict").only("title", "text", "verdict"))
                verdicts = model.classify([f"{ad.title}\n{ad.text}" for ad in batch])
                rows = Verdict.objects.bulk_create([
                    Verdict(ad=ad, score=v.score, label=bool(v.label), category=v.category,
                            evidence=split_evidence(v.evidence, len(ad.title)),
                            model_version=v.model_version)
                    for ad, v in zip(batch, verdicts, strict=True)
                ])
                for ad, row in zip(batch, rows, strict=True):
                    flipped += ad.verdict.label != row.label
                    ad.verdict = row
                Ad.objects.bulk_update(batch, ["verdict"])
                ReviewItem.follow_verdicts([ad.pk for ad in batch])
            rescored += len(batch)
        # Once every ad is scored: a group's item ranks by its best-scored copy.
        touched = ads.filter(verdict__model_version=model.version)
        items = ReviewItem.objects.filter(status=ReviewItem.Status.PENDING).filter(
            Q(ad__in=touched) | Q(ad__duplicate_group_id__in=touched.exclude(
                duplicate_group=None).values("duplicate_group_id")))
        with transaction.atomic():
            reprioritized = reprioritize(set(items.values_list("ad_id", flat=True)))
            AuditEvent.record(None, "model.rescored", detail={
                "by": os_user(), "version": model.version,
                "scope": "pending" if options["pending"] else "all",
                "rescored": rescored, "changed_flag": flipped, "reprioritized": reprioritized,
                "already_scored": current,
            })
        self.stdout.write(
            f"rescored {rescored} ads with {model.version} ({flipped} changed flag, "
            f"{reprioritized} pending items reprioritized); {current} already scored by it"
        )
