"""Search terms supervisors add in the admin, and which terms find confirmed violations
(issue 18 point 3; the searching itself is ``crawler.search``).

A source's ``search:`` without its own ``terms`` searches for the default terms (the disguises of
DOMAIN.md) plus every active :class:`SearchTerm`. Adding, changing and deleting terms in the
admin is audited (``search_term.added`` …, ``review_ui.admin``).

Each crawl run keeps which terms found which result URLs in its stats
(``tutorwatch/search/found_by``); :func:`term_findings` joins them, over every run, to the ads
stored at those URLs and their review decisions: the results, the ads flagged, the ads
confirmed. The dashboard's search terms page shows them, so the list improves with the
decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

FOUND_BY_KEY = "tutorwatch/search/found_by"  # crawler.spiders.search.FOUND_BY_KEY
RUNS_READ = 500  # the latest runs that searched; older findings age out of the page


class SearchTerm(models.Model):
    term = models.CharField(_("term"), max_length=50, unique=True)
    active = models.BooleanField(pgettext_lazy("search term", "searched"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                 blank=True, related_name="+", verbose_name=_("added by"))
    created_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        app_label = "review_ui"
        ordering = ["term"]
        verbose_name = _("search term")
        verbose_name_plural = _("search terms")

    def __str__(self) -> str:
        return self.term

    def save(self, *args, **kwargs) -> None:
        self.term = (self.term or "").strip()
        super().save(*args, **kwargs)


def active_terms() -> list[str]:
    """The terms supervisors added and did not switch off."""
    return list(SearchTerm.objects.filter(active=True).values_list("term", flat=True))


@dataclass
class TermFindings:
    term: str
    origin: str  # "default", "added" or "source" (a source's own terms)
    results: int = 0  # distinct result URLs the term found
    stored: int = 0  # of them, ads in the store
    flagged: int = 0  # of them, ads the model flagged (they have a review item)
    confirmed: int = 0  # of them, confirmed violations

    @property
    def confirmed_share(self) -> float | None:
        return self.confirmed / self.flagged if self.flagged else None


def found_by_term() -> dict[str, set[str]]:
    """{term: result URLs} over the latest ``RUNS_READ`` runs that searched."""
    from review_ui.models import CrawlRun

    found: dict[str, set[str]] = {}
    stats = (CrawlRun.objects.filter(stats__has_key=FOUND_BY_KEY).order_by("-started_at")
             .values_list("stats", flat=True)[:RUNS_READ])
    for run_stats in stats:
        for url, terms in (run_stats.get(FOUND_BY_KEY) or {}).items():
            for term in terms if isinstance(terms, list) else ():
                found.setdefault(str(term), set()).add(str(url))
    return found


def term_findings() -> list[TermFindings]:
    """Every term searched or searchable, with what it found; most confirmations first."""
    from crawler.search import DEFAULT_TERMS
    from review_ui.models import Ad, ReviewItem

    found = found_by_term()
    added = set(SearchTerm.objects.values_list("term", flat=True))
    terms = list(dict.fromkeys([*DEFAULT_TERMS, *sorted(added), *sorted(found)]))
    urls = set().union(*found.values()) if found else set()
    ads = {url: (item_status, has_item) for url, item_status, has_item in (
        (a["url"], a["review_item__status"], a["review_item__id"] is not None)
        for a in Ad.objects.filter(url__in=urls).values("url", "review_item__status",
                                                         "review_item__id"))}
    rows = []
    for term in terms:
        origin = "default" if term in DEFAULT_TERMS else "added" if term in added else "source"
        row = TermFindings(term, origin, results=len(found.get(term, ())))
        for url in found.get(term, ()):
            if url in ads:
                status, flagged = ads[url]
                row.stored += 1
                row.flagged += flagged
                row.confirmed += status == ReviewItem.Status.CONFIRMED
        rows.append(row)
    rows.sort(key=lambda r: (-r.confirmed, -r.flagged, -r.results, r.term))
    return rows
