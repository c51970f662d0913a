"""Screenshots wanted: the pending :class:`~review_ui.models.Screenshot` rows the store writes
when it flags an ad, and when a re-check crawl finds a flagged ad still up.

The rows are requests only: a capture worker (``review_ui.capture``) fills them in later, outside
the crawl, so storing an ad never waits on a browser. They are written in the ingest's own
transaction (one insert for the batch), so an ad rolled back leaves no request behind, and an ad
that already has a capture waiting gets no second one. Only web pages are captured: an ad an
officer submitted by hand (``manual:…``, ``review_ui.intake``) carries its own pictures.
"""

from __future__ import annotations

from collections.abc import Iterable

from review_ui.models import Ad, Screenshot


def request_screenshots(wanted: Iterable[tuple[Ad, str]]) -> int:
    """Write a pending capture for each (ad, trigger) whose ad is a web page and has none
    waiting yet; how many were written."""
    wanted = {ad.pk: (ad, trigger) for ad, trigger in wanted
              if ad.url.startswith(("http://", "https://"))}
    if not wanted:
        return 0
    waiting = set(Screenshot.objects.filter(ad_id__in=wanted, status=Screenshot.Status.PENDING)
                  .values_list("ad_id", flat=True))
    rows = [Screenshot(ad=ad, trigger=trigger, url=ad.url)
            for pk, (ad, trigger) in wanted.items() if pk not in waiting]
    Screenshot.objects.bulk_create(rows)
    return len(rows)
