"""``tutorwatch places backfill [--all]``: parse the place (province, city, district,
township) of stored ads that have none yet (``--all``: of every ad, after the parser or a
source's ``region:`` changed), in batches, each batch in one transaction.

``tutorwatch places check REGION``: what a region or ``TUTORWATCH_JURISDICTION`` value names.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

BATCH = 500


class Command(BaseCommand):
    help = "Parse the places of stored ads (backfill), or show what a region names (check)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["backfill", "check"])
        parser.add_argument("region", nargs="?", default="")
        parser.add_argument(
            "--all", action="store_true", help="re-parse every ad, not only those without a place"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from review_ui.models import Ad
        from review_ui.places.parser import parse_region
        from review_ui.store.places import default_region, place_fields

        if options["action"] == "check":
            place = parse_region(options["region"])
            if place.empty:
                raise CommandError(f"{options['region']!r} names no division", returncode=2)
            self.stdout.write(
                " ".join(
                    filter(None, [place.province, place.city, place.district, place.district_code])
                )
            )
            return
        ads = (
            Ad.objects.select_related("source")
            .only(
                "pk",
                "title",
                "text",
                "region",
                "source__config",
                "province",
                "city",
                "district",
                "township",
                "place_note",
            )
            .order_by("pk")
        )
        if not options["all"]:
            ads = ads.filter(province="", city="", district="", township="", place_note="")
        columns = ["province", "city", "district", "township", "place_note"]
        done = changed = 0
        last = 0
        while True:
            batch = list(ads.filter(pk__gt=last)[:BATCH])
            if not batch:
                break
            last = batch[-1].pk
            updated = []
            for ad in batch:
                fields = place_fields(
                    ad.title, ad.text, ad.region, default_region(ad.source.config)
                )
                if any(getattr(ad, k) != v for k, v in fields.items()):
                    for name, value in fields.items():
                        setattr(ad, name, value)
                    updated.append(ad)
            with transaction.atomic():
                Ad.objects.bulk_update(updated, columns)
            done += len(batch)
            changed += len(updated)
        self.stdout.write(f"{done} ads read, {changed} given a new place")
