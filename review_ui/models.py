"""The store: sources, crawl runs, ads, verdicts, review items, decisions and the audit log.

State changes that officers make are model methods that write their audit row in the same
transaction. The audit log is append-only: the application never updates or deletes a row.

Settings: ``TUTORWATCH_CLAIM_MINUTES`` (how long a claim on a review item holds).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, router, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from crawler.entities import extract_contact_field
from review_ui import audit_chain
from review_ui.reasons import DISMISSAL_CODES, REASON_CHOICES, VIOLATION_CODES


class Source(models.Model):
    name = models.CharField(_("name"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=16)
    config = models.JSONField(_("config"), default=dict)
    config_path = models.CharField(_("config file"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("source")
        verbose_name_plural = _("sources")

    def __str__(self) -> str:
        return self.name


class CrawlRun(models.Model):
    """One crawl of one source, by one process or by several workers sharing a Redis frontier.

    ``health`` lists the checks that failed when the crawl closed (``crawler.monitors``);
    ``alerts`` says how the alert about them went out. ``workers`` names every process that
    took part (host, pid), so a run whose processes died is found and marked interrupted.
    """

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        FINISHED = "finished", _("finished")
        FAILED = "failed", _("failed")
        INTERRUPTED = "interrupted", _("interrupted")

    class Kind(models.TextChoices):
        CRAWL = "crawl", _("crawl")
        RECHECK = "recheck", _("re-check")

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("manual")
        SCHEDULED = "scheduled", _("scheduled")

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="runs")
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.RUNNING)
    finish_reason = models.CharField(_("finish reason"), max_length=100, blank=True)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    items = models.PositiveIntegerField(_("items"), default=0)
    new_ads = models.PositiveIntegerField(_("new ads"), default=0)
    flagged = models.PositiveIntegerField(_("flagged"), default=0)
    errors = models.PositiveIntegerField(_("errors"), default=0)
    stats = models.JSONField(_("crawl stats"), default=dict)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind, default=Kind.CRAWL)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger, default=Trigger.MANUAL)
    host = models.CharField(_("host"), max_length=255, blank=True)
    pid = models.PositiveIntegerField(_("process id"), null=True, blank=True)
    workers = models.JSONField(_("workers"), default=list, blank=True)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    skipped = models.PositiveIntegerField(_("already stored, not due"), default=0)
    changed = models.PositiveIntegerField(_("changed ads"), default=0)
    removed = models.PositiveIntegerField(_("takedowns"), default=0)
    error_kinds = models.JSONField(_("errors by kind"), default=dict, blank=True)
    health = models.JSONField(_("failed health checks"), default=list, blank=True)
    alerts = models.JSONField(_("alerts sent"), default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("crawl run")
        verbose_name_plural = _("crawl runs")
        indexes = [models.Index(fields=["source", "status"], name="crawlrun_source_status")]

    def __str__(self) -> str:
        return f"{self.source} @ {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def ok(self) -> bool:
        return self.status in (self.Status.RUNNING, self.Status.FINISHED)

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None


class DuplicateGroup(models.Model):
    """Copies of one ad: the same ad reposted at several URLs with small edits
    (``review_ui.duplicates``).

    Every copy is stored as its own :class:`Ad` linked here; the group has one review item, on
    the first copy that was flagged.
    """

    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("group of copies")
        verbose_name_plural = _("groups of copies")

    def __str__(self) -> str:
        return f"copies #{self.pk}"


class Ad(models.Model):
    """One crawled post, unique by URL. A re-crawl updates it in place."""

    url = models.URLField(_("URL"), max_length=2000, unique=True)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="ads")
    title = models.CharField(_("title"), max_length=500, blank=True)
    text = models.TextField(_("text"), blank=True)
    posted_at = models.DateTimeField(_("posted"), null=True, blank=True)
    posted_at_raw = models.CharField(_("posted (as shown)"), max_length=100, blank=True)
    fetched_at = models.DateTimeField(_("fetched"))
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    phones = models.JSONField(_("phones"), default=list, blank=True)
    wechat_ids = models.JSONField(_("WeChat ids"), default=list, blank=True)
    contact_raw = models.TextField(_("contact (as shown)"), blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True, db_index=True)
    contact_shares = models.PositiveIntegerField(
        _("other ads sharing a contact"), default=0,
        help_text=_("How many other ads carry one of this ad's phones or WeChat ids."),
    )
    raw_page = models.BinaryField(_("raw page"), blank=True, default=b"")
    raw_sha256 = models.CharField(_("raw page SHA-256"), max_length=64, blank=True)
    raw_content_type = models.CharField(_("content type"), max_length=200, blank=True)
    raw_encoding = models.CharField(_("encoding"), max_length=50, blank=True)
    text_sha256 = models.CharField(max_length=64, blank=True)
    crawl_run = models.ForeignKey(
        CrawlRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="ads"
    )
    verdict = models.ForeignKey(
        "Verdict", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("current verdict"),
    )
    duplicate_group = models.ForeignKey(
        DuplicateGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="ads",
        verbose_name=_("copies"),
    )
    checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    changed_at = models.DateTimeField(_("last changed"), null=True, blank=True)
    removed_at = models.DateTimeField(_("taken down"), null=True, blank=True, db_index=True)
    removal = models.CharField(_("how it was taken down"), max_length=16, blank=True)
    # How the text was found: empty when the source's own selectors found it, else the fallback
    # that did ("html.parser": a lenient re-parse; "page_text": the page's whole visible text).
    extraction = models.CharField(_("text found by"), max_length=32, blank=True, default="")
    # Where the ad says it is (issue 19, point 3; review_ui/places/parser.py), as the
    # administrative divisions write the names: 湖南省, 长沙市, 天心区, 暮云街道.
    province = models.CharField(pgettext_lazy("places", "province"), max_length=32, blank=True,
                                default="")
    city = models.CharField(pgettext_lazy("places", "city"), max_length=32, blank=True,
                            default="")
    district = models.CharField(pgettext_lazy("places", "district"), max_length=32, blank=True,
                                default="",
                                db_index=True)
    township = models.CharField(pgettext_lazy("places", "township"), max_length=32, blank=True,
                                default="",
                                db_index=True)
    place_note = models.CharField(pgettext_lazy("places", "place note"), max_length=200,
                                  blank=True, default="")
    # When the retention purge (review_ui.retention) removed the page, text and contacts of an ad
    # nobody flagged; its row, hashes and dates stay.
    purged_at = models.DateTimeField(_("content purged"), null=True, blank=True)
    # crawler.config_hash: the source config the ad was extracted with (a changed one re-fetches)
    config_hash = models.CharField(_("config hash"), max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-fetched_at"]
        # The queue's "newest first" walks this index and stops after a page (issue 22).
        indexes = [models.Index(fields=["first_seen_at"], name="ad_first_seen")]
        verbose_name = _("ad")
        verbose_name_plural = _("ads")

    def __str__(self) -> str:
        return self.title or self.url

    @property
    def contacts(self) -> dict[str, list[str]]:
        return {"phones": list(self.phones), "wechat_ids": list(self.wechat_ids)}

    def copies(self) -> models.QuerySet[Ad]:
        """The other ads of this ad's group of copies (none when it has no copy)."""
        if self.duplicate_group_id is None:
            return Ad.objects.none()
        return Ad.objects.filter(duplicate_group_id=self.duplicate_group_id).exclude(pk=self.pk)

    def group_review_item(self) -> ReviewItem | None:
        """The review item of this ad, or (for a copy, or an item merged away) of its group."""
        own = ReviewItem.objects.filter(ad=self).first()
        if self.duplicate_group_id is None or (
            own is not None and own.status != ReviewItem.Status.MERGED
        ):
            return own
        active = (ReviewItem.objects.filter(ad__duplicate_group_id=self.duplicate_group_id)
                  .exclude(status=ReviewItem.Status.MERGED).order_by("created_at", "pk").first())
        return active or own


    def contact_keys(self) -> set[tuple[str, str]]:
        return {(AdContact.PHONE, str(p)[:64]) for p in self.phones if p} | {
            (AdContact.WECHAT, str(w)[:64]) for w in self.wechat_ids if w
        }

    def sharing_ads(self):
        """Other ads that carry one of this ad's phones or WeChat ids."""
        return ads_with_contacts(self.contact_keys()).exclude(pk=self.pk)

class NearDuplicateKey(models.Model):
    """One MinHash band of an ad's text: ads that share a key are candidate copies."""

    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="near_duplicate_keys")
    key = models.BigIntegerField()

    class Meta:
        # (key, ad): finding the ads that share a key reads the index alone.
        indexes = [models.Index(fields=["key", "ad"], name="near_duplicate_lookup")]
        verbose_name = _("near-duplicate key")
        verbose_name_plural = _("near-duplicate keys")


class AdVersion(models.Model):
    """An earlier content of an ad, kept as evidence when the site changed it.

    ``seen_from``..``seen_until`` is when tutorwatch saw this content: from its first fetch to the
    fetch that found it changed. The ad row always holds the latest content.
    """

    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("title"), max_length=500, blank=True)
    text = models.TextField(_("text"), blank=True)
    posted_at_raw = models.CharField(_("posted (as shown)"), max_length=100, blank=True)
    phones = models.JSONField(_("phones"), default=list, blank=True)
    wechat_ids = models.JSONField(_("WeChat ids"), default=list, blank=True)
    contact_raw = models.TextField(_("contact (as shown)"), blank=True)
    raw_page = models.BinaryField(_("raw page"), blank=True, default=b"")
    raw_sha256 = models.CharField(_("raw page SHA-256"), max_length=64, blank=True)
    raw_content_type = models.CharField(_("content type"), max_length=200, blank=True)
    raw_encoding = models.CharField(_("encoding"), max_length=50, blank=True)
    text_sha256 = models.CharField(max_length=64, blank=True)
    fetched_at = models.DateTimeField(_("fetched"))
    seen_from = models.DateTimeField(_("seen from"))
    seen_until = models.DateTimeField(_("seen until"))
    verdict = models.ForeignKey(
        "Verdict", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
    )

    class Meta:
        ordering = ["ad", "-number"]
        verbose_name = _("earlier version")
        verbose_name_plural = _("earlier versions")
        constraints = [
            models.UniqueConstraint(fields=["ad", "number"], name="adversion_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.ad_id} v{self.number}"
class AdContact(models.Model):
    """One phone or WeChat id of an ad: the index behind "other ads sharing a contact"."""

    PHONE = "phone"
    WECHAT = "wechat"
    KINDS = [(PHONE, _("phone")), (WECHAT, _("WeChat id"))]

    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="contact_rows")
    kind = models.CharField(_("kind"), max_length=8, choices=KINDS)
    value = models.CharField(_("value"), max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ad", "kind", "value"], name="ad_contact_unique"),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="ad_contact_lookup")]
        verbose_name = _("ad contact")
        verbose_name_plural = _("ad contacts")


def contact_keys_in(text: str) -> set[tuple[str, str]]:
    """The index keys of the phones and WeChat ids someone typed (a search), found and
    normalised as a crawl finds them in an ad's contact field: "139 1234 5678" and full-width
    digits become 13912345678. A mobile number counts as a WeChat id too (accounts go by them)."""
    found = extract_contact_field(text)
    return ({(AdContact.PHONE, p) for p in found["phones"]}
            | {(AdContact.WECHAT, w) for w in found["wechat_ids"] + found["phones"]})


def ads_with_contacts(keys: set[tuple[str, str]]) -> models.QuerySet[Ad]:
    """Ads carrying any of these contact index keys (``Ad.contact_keys``, ``contact_keys_in``)."""
    if not keys:
        return Ad.objects.none()
    match = Q()
    for channel, value in keys:
        match |= Q(kind=channel, value=value)
    return Ad.objects.filter(pk__in=AdContact.objects.filter(match).values("ad_id"))


class Verdict(models.Model):
    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="verdicts")
    score = models.FloatField(_("score"))
    label = models.BooleanField(_("flagged"))
    category = models.CharField(_("category"), max_length=32, blank=True)
    evidence = models.JSONField(_("evidence"), default=list)
    model_version = models.CharField(_("model version"), max_length=100)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("verdict")
        verbose_name_plural = _("verdicts")


class AlreadyDecided(Exception):
    """The item was decided by someone else first (or earlier)."""

    @property
    def message(self) -> str:
        return gettext("This item was already decided; nothing was changed.")


class ClaimedByOther(Exception):
    """Another officer holds a live claim on the item."""

    def __init__(self, holder) -> None:
        super().__init__(getattr(holder, "pk", holder))
        self.holder = holder

    @property
    def message(self) -> str:
        name = self.holder.get_username() if self.holder is not None else "?"
        return gettext("%(name)s has claimed this item; nothing was changed. Their claim expires "
                       "if they leave it.") % {"name": name}


class NotDecided(Exception):
    """A reversal was asked for an item that is still pending."""


class StaleReversal(Exception):
    """The decision a reversal was meant to replace is no longer the item's latest: someone
    reversed it meanwhile, or the same form was sent again."""


class MergedItem(Exception):
    """The item was merged into the review item of a copy; that item carries the decision."""


def claim_ttl() -> timedelta:
    return timedelta(minutes=getattr(settings, "TUTORWATCH_CLAIM_MINUTES", 30))


# How the queue ranks pending items (see docs/review-ui.md, "Priority"): the model's score,
# plus a bonus per doubling of the other ads that share a contact, plus freshness. Freshness is
# a time anchor rather than a decay: adding days-since-epoch / FRESHNESS_DAYS * 0.1 ranks an ad
# that much older exactly 0.1 of score lower, and no stored priority ever needs refreshing.
SHARE_WEIGHT = 0.1
FRESHNESS_DAYS = 30.0
_EPOCH = datetime(2020, 1, 1, tzinfo=timezone.get_fixed_timezone(0))


def priority(score: float, when: datetime | None, shared: int) -> float:
    days = ((when or timezone.now()) - _EPOCH).total_seconds() / 86400
    return score + SHARE_WEIGHT * math.log2(1 + max(shared, 0)) + 0.1 * days / FRESHNESS_DAYS


class Case(models.Model):
    """An enforcement case opened by escalating one or more review items."""

    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cases_opened"
    )
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"TW{timezone.localtime(self.opened_at):%Y}-{self.pk:05d}"

    @classmethod
    def by_number(cls, number: str) -> Case | None:
        tail = number.strip().rsplit("-", 1)[-1]
        if not tail.isdigit():
            return None
        case = cls.objects.filter(pk=int(tail)).first()
        return case if case is not None and case.number == number.strip() else None


class ReviewItem(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        CONFIRMED = "confirmed", _("confirmed")
        DISMISSED = "dismissed", _("dismissed")
        ESCALATED = "escalated", _("escalated")
        # Two groups of copies, each with a pending item, became one: one item stays.
        MERGED = "merged", _("merged with a copy")

    ad = models.OneToOneField(Ad, on_delete=models.CASCADE, related_name="review_item")
    status = models.CharField(
        _("status"), max_length=16, choices=Status, default=Status.PENDING, db_index=True
    )
    priority = models.FloatField(_("priority"), default=0.0, db_index=True)
    created_at = models.DateTimeField(_("queued"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="claims", verbose_name=_("claimed by"),
    )
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=32, choices=REASON_CHOICES, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True, db_index=True)
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="items",
        verbose_name=_("case"),
    )
    # Queued as part of the exploration sample of unflagged ads (issue 16, point 5), which
    # measures what the model misses; decided like any item.
    sample = models.BooleanField(_("exploration sample"), default=False)
    # The share of unflagged ads the sample drew when this item was drawn (TUTORWATCH_SAMPLE_RATE
    # then): a decided sample stands for 1 / sample_rate unflagged ads.
    sample_rate = models.FloatField(_("sampling rate"), null=True, blank=True)
    # The score of the ad's current verdict (None without one), kept here so that the queue's
    # score orders walk an index of this table instead of sorting every item of a tab through
    # two joins (issue 22): written wherever an item is made or its ad gets a verdict
    # (review_ui.store.review_items, ``tutorwatch rescore``).
    score = models.FloatField(_("score"), null=True, blank=True)

    class Meta:
        ordering = ["-priority", "-created_at"]
        indexes = [
            models.Index(fields=["status", "-priority"], name="review_item_queue"),
            models.Index(fields=["status", "sample", "-priority"], name="review_item_sample_queue"),
            # "highest score first" (its tie-breaks included) and "most informative first"
            # (two walks from the threshold: review_ui.ordering).
            models.Index(fields=["status", "-score", "-priority", "-id"],
                         name="review_item_score"),
        ]
        permissions = [
            ("claim_reviewitem", "Can claim a review item"),
            ("reverse_reviewitem", "Can reverse a decision"),
            ("export_reviewitem", "Can export confirmed cases"),
            ("view_dashboard", "Can view the dashboard"),
        ]
        verbose_name = _("review item")
        verbose_name_plural = _("review items")

    def __str__(self) -> str:
        return f"{self.ad} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        """A new item takes its ad's current score unless given one (the store's batches are
        given theirs: ``review_ui.store.review_items``)."""
        if self._state.adding and self.score is None and self.ad_id is not None:
            self.score = self.ad.verdict.score if self.ad.verdict_id else None
        super().save(*args, **kwargs)

    @classmethod
    def follow_verdicts(cls, ad_ids: Collection[int]) -> None:
        """Give the items of these ads the score of their ad's current verdict, after the ads
        got new verdicts by another way than the store's ingest (``tutorwatch rescore``)."""
        cls.objects.filter(ad_id__in=ad_ids).update(score=Subquery(
            Ad.objects.filter(pk=OuterRef("ad_id")).values("verdict__score")[:1]))

    def claim_is_live(self, now: datetime | None = None) -> bool:
        return (self.claimed_by_id is not None and self.claimed_at is not None
                and self.claimed_at >= (now or timezone.now()) - claim_ttl())

    def claim_expires_at(self) -> datetime | None:
        return self.claimed_at + claim_ttl() if self.claimed_at else None

    def _open_to(self, officer) -> Q:
        """Rows this officer may act on: unclaimed, claimed by them, or with an expired claim."""
        expired = timezone.now() - claim_ttl()
        return (Q(claimed_by__isnull=True) | Q(claimed_by=officer)
                | Q(claimed_at__isnull=True) | Q(claimed_at__lt=expired))

    def _refused(self) -> Exception:
        fresh = ReviewItem.objects.select_related("claimed_by").get(pk=self.pk)
        if fresh.status != self.Status.PENDING:
            return AlreadyDecided(self.pk)
        return ClaimedByOther(fresh.claimed_by)

    def claim(self, officer, *, via: str = "") -> None:
        """Claim a pending item for ``officer``. Of two officers claiming at once, one wins; a
        claim by someone else blocks others until it expires (``TUTORWATCH_CLAIM_MINUTES``).
        ``via`` names the way in other than the UI ("api"), for the audit row."""
        now = timezone.now()
        with transaction.atomic():
            updated = ReviewItem.objects.filter(
                Q(pk=self.pk, status=self.Status.PENDING) & self._open_to(officer)
            ).update(claimed_by=officer, claimed_at=now, updated_at=now)
            if not updated:
                raise self._refused()
            AuditEvent.record(officer, "item.claimed", ad_id=self.ad_id, item=self,
                              detail=_via({}, via))
        self.claimed_by, self.claimed_at = officer, now

    def release(self, officer, *, force: bool = False, via: str = "") -> bool:
        """Give up a claim; ``force`` (supervisors) releases anyone's. False when none was held."""
        rows = ReviewItem.objects.filter(pk=self.pk, claimed_by__isnull=False)
        if not force:
            rows = rows.filter(claimed_by=officer)
        with transaction.atomic():
            holder = rows.values_list("claimed_by_id", flat=True).first()
            if holder is None or not rows.update(claimed_by=None, claimed_at=None,
                                                 updated_at=timezone.now()):
                return False
            AuditEvent.record(officer, "item.released", ad_id=self.ad_id, item=self,
                              detail=_via({"holder": holder}, via))
        self.claimed_by, self.claimed_at = None, None
        return True

    def decide(self, officer, decision: str, note: str = "", reason: str = "",
               case: Case | None = None, new_case: bool = False, *, via: str = "") -> Decision:
        """Record an officer's decision. Only a pending item that no one else holds a live claim
        on can be decided; the check and the change are one conditional UPDATE, so of two racing
        officers exactly one wins and the other gets AlreadyDecided."""
        check_reason(decision, reason)
        now = timezone.now()
        with transaction.atomic():
            if decision == self.Status.ESCALATED and case is None and new_case:
                case = Case.objects.create(opened_by=officer, note=note)
            elif decision != self.Status.ESCALATED:
                case = None
            updated = ReviewItem.objects.filter(
                Q(pk=self.pk, status=self.Status.PENDING) & self._open_to(officer)
            ).update(status=decision, reason=reason, decided_by=officer, decided_at=now,
                     case=case, claimed_by=None, claimed_at=None, updated_at=now)
            if not updated:
                raise self._refused()
            made = Decision.objects.create(item=self, officer=officer, decision=decision,
                                           reason=reason, note=note, decided_at=now, case=case)
            detail = {"decision": decision, "reason": reason, "note": note,
                      "decision_id": made.pk}
            if case is not None:
                detail["case"] = case.number
            AuditEvent.record(officer, "item.decided", ad_id=self.ad_id, item=self,
                              detail=_via(detail, via))
        self.status, self.reason, self.decided_by, self.decided_at = decision, reason, officer, now
        self.case, self.claimed_by, self.claimed_at = case, None, None
        return made

    def reverse(self, supervisor, decision: str, note: str, reason: str = "", *,
                reverses: int | None) -> Decision:
        """A supervisor replaces the current decision, or returns the item to the queue
        (``decision="pending"``). The earlier decision stays in the history.

        ``reverses`` is the id of the decision the supervisor saw as the latest (None: none).
        Under the row lock, a reversal is refused with StaleReversal unless that is still the
        latest decision, so a stale or replayed form never overwrites a later decision.
        Reversing to "escalated" keeps the item's case, or opens one as an escalation does."""
        if decision != self.Status.PENDING:
            check_reason(decision, reason)
        elif reason:
            raise ValueError("reopening takes no reason")
        with transaction.atomic():
            current = ReviewItem.objects.select_for_update().get(pk=self.pk)
            now = timezone.now()  # after the lock: the history's order is the order of changes
            if current.status == self.Status.MERGED:
                raise MergedItem(self.pk)
            previous = current.decisions.order_by("-decided_at", "-pk").first()
            if (previous.pk if previous is not None else None) != reverses:
                raise StaleReversal(self.pk)
            if current.status == self.Status.PENDING:
                raise NotDecided(self.pk)
            if current.status == decision and current.reason == reason:
                raise ValueError("the reversal changes nothing")
            case = current.case if decision == self.Status.ESCALATED else None
            if decision == self.Status.ESCALATED and case is None:
                case = Case.objects.create(opened_by=supervisor, note=note)
            fields = {"status": decision, "reason": reason, "case": case, "updated_at": now,
                      "claimed_by": None, "claimed_at": None}
            if decision == self.Status.PENDING:
                fields.update(decided_by=None, decided_at=None)
            else:
                fields.update(decided_by=supervisor, decided_at=now)
            if not ReviewItem.objects.filter(pk=self.pk, status=current.status).update(**fields):
                raise AlreadyDecided(self.pk)  # unreachable under the row lock; kept as a guard
            made = Decision.objects.create(item=self, officer=supervisor, decision=decision,
                                           reason=reason, note=note, decided_at=now,
                                           reverses=previous, case=case)
            detail = {"from": current.status, "from_reason": current.reason, "to": decision,
                      "reason": reason, "note": note, "decision_id": made.pk,
                      "reverses": reverses}
            if case is not None:
                detail["case"] = case.number
            AuditEvent.record(supervisor, "item.reversed", ad_id=self.ad_id, item=self,
                              detail=detail)
        for name, value in fields.items():
            setattr(self, name, value)
        return made


def _via(detail: dict, via: str) -> dict:
    """An audit row's detail, naming the way in when it was not the UI."""
    return {**detail, "via": via} if via else detail


class InvalidDecision(ValueError):
    """A decision that breaks a rule of the review (its message says which, for the officer)."""


def check_reason(decision: str, reason: str) -> None:
    """A confirmed or escalated item names a violation form, a dismissed one a dismissal
    reason (``review_ui.reasons``): the rule for the UI's forms, the API and the models."""
    if decision in (ReviewItem.Status.CONFIRMED, ReviewItem.Status.ESCALATED):
        if reason not in VIOLATION_CODES:
            raise InvalidDecision(gettext("Confirming or escalating needs a violation form."))
    elif decision == ReviewItem.Status.DISMISSED:
        if reason not in DISMISSAL_CODES:
            raise InvalidDecision(gettext("Dismissing needs a dismissal reason."))
    else:
        raise InvalidDecision(f"unknown decision {decision!r}")


def case_for_decision(decision: str, number: str) -> Case | None:
    """The existing case an escalation is added to, by its number; None for none given (an
    escalation then opens a new case). Only an escalation goes into a case."""
    number = (number or "").strip()
    if not number:
        return None
    if decision != ReviewItem.Status.ESCALATED:
        raise InvalidDecision(gettext("Only an escalation goes into a case."))
    case = Case.by_number(number)
    if case is None:
        raise InvalidDecision(gettext("There is no case with this number."))
    return case


class Decision(models.Model):
    """One decision or reversal, kept forever: the history of a review item."""

    item = models.ForeignKey(ReviewItem, on_delete=models.PROTECT, related_name="decisions")
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    decision = models.CharField(_("decision"), max_length=16, choices=ReviewItem.Status)
    reason = models.CharField(_("reason"), max_length=32, choices=REASON_CHOICES, blank=True)
    note = models.TextField(_("note"), blank=True)
    decided_at = models.DateTimeField(_("decided"), default=timezone.now, db_index=True)
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="decisions", verbose_name=_("case"))

    class Meta:
        ordering = ["-decided_at"]
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")

    @property
    def is_reversal(self) -> bool:
        return self.reverses_id is not None


class Institution(models.Model):
    """A training provider on a list a bureau keeps: licensed (whitelist) or banned (blacklist).
    Ads whose phone or WeChat id matches one are marked on the ad page."""

    class Kind(models.TextChoices):
        LICENSED = "licensed", _("licensed (whitelist)")
        BLACKLISTED = "blacklisted", _("blacklisted")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("list"), max_length=16, choices=Kind)
    region = models.CharField(_("region"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    phones = models.JSONField(_("phones"), default=list, blank=True)
    wechat_ids = models.JSONField(_("WeChat ids"), default=list, blank=True)
    note = models.TextField(_("note"), blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Licensing lists (issue 19 point 2, review_ui.institutions): set by the import and the admin.
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    scope = models.CharField(_("permitted scope"), max_length=500, blank=True)
    brand = models.CharField(_("brand"), max_length=200, blank=True, editable=False)
    brand_regions = models.CharField(max_length=200, blank=True, editable=False)
    name_key = models.CharField(max_length=200, blank=True, editable=False, db_index=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")
        constraints = [models.UniqueConstraint(fields=["credit_code"], condition=~Q(credit_code=""),
                                               name="institution_unique_credit_code")]

    def __str__(self) -> str:
        return self.name


class LoginAttempt(models.Model):
    """Failed and successful logins, for throttling password guessing (review_ui.auth)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("login attempt")
        verbose_name_plural = _("login attempts")


class AppendOnlyError(Exception):
    pass


class AuditQuerySet(models.QuerySet):
    """Bulk changes through the ORM are refused too: ``AuditEvent.objects.update()/delete()``;
    ``bulk_create`` chains its rows in the order given (review_ui.audit_chain)."""

    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only")

    def delete(self):
        raise AppendOnlyError("audit events are append-only")

    def bulk_create(self, objs, batch_size=None, ignore_conflicts=False, update_conflicts=False,
                    update_fields=None, unique_fields=None):
        objs = list(objs)
        if ignore_conflicts or update_conflicts:
            raise AppendOnlyError("audit events are inserted as they are: no conflict handling")
        if any(obj.pk is not None for obj in objs):
            raise AppendOnlyError("audit events are append-only: a new event has no pk yet")
        if not objs:
            return objs
        with transaction.atomic(using=self.db):
            audit_chain.seal(self.model, objs, self.db)
            return super().bulk_create(objs, batch_size=batch_size)


# What each audit action is called on the pages; exports keep the codes.
AUDIT_ACTIONS = {
    "ad.created": _("ad stored"),
    "ad.updated": _("ad changed on its site"),
    "ad.reappeared": _("ad reappeared"),
    "ad.removed": _("ad taken down"),
    "ad.viewed": _("ad viewed"),
    "ad.snapshot_viewed": _("snapshot viewed"),
    "item.queued": _("queued for review"),
    "item.merged": _("merged into a copy's item"),
    "item.claimed": _("item claimed"),
    "item.released": _("claim released"),
    "item.decided": _("decision recorded"),
    "item.reversed": _("decision reversed"),
    "items.batch_decided": _("items decided together"),
    "case.note_added": _("case note added"),
    "cases.exported": _("cases exported"),
    "audit.exported": _("audit log exported"),
    "user.logged_in": _("logged in"),
    "user.logged_out": _("logged out"),
    "user.login_failed": _("login failed"),
    "user.login_refused": _("login refused (too many failures)"),
    "user.created": _("user created"),
    "user.changed": _("user changed"),
    "user.password_changed": _("password changed"),
    "user.deleted": _("user deleted"),
    "user.role_granted": _("role granted (command line)"),
    "user.role_revoked": _("role revoked (command line)"),
    "user.token_created": _("API token created (command line)"),
    "user.token_rotated": _("API token replaced (command line)"),
    "group.created": _("group created"),
    "group.changed": _("group changed"),
    "group.deleted": _("group deleted"),
    "source.added": _("source added"),
    "source.changed": _("source changed"),
    "source.deleted": _("source deleted"),
    "institution.added": _("institution added"),
    "institution.changed": _("institution changed"),
    "institution.deleted": _("institution deleted"),
    "institutions.imported": _("institution list imported"),
    "model.registered": _("model version registered"),
    "model.promoted": _("model version promoted"),
    "model.rolled_back": _("model version rolled back"),
    "model.rescored": _("ads rescored with a model version"),
    "ad.captured": _("screenshot captured"),
    "ad.submitted": _("ad submitted by an officer"),
    "lead.created": _("lead entered"),
    "leads.imported": _("leads imported"),
    "lead.case_opened": _("case opened from a lead"),
    "lead.case_joined": _("lead added to a case"),
    "case.evidence_exported": _("evidence sheet generated"),
    # The search box (review_ui.search): a phone looked up across the store is personal data read.
    "search.performed": _("searched"),
    "ad.capture_failed": _("screenshot failed"),
    "ads.purged": _("content of unflagged ads purged (retention)"),
    "store.restored": _("store restored from a backup"),
}


class AuditEvent(models.Model):
    """One line of the audit log. Rows are written once and never changed by the application;
    each is chained to the one before it by ``prev_hash`` and ``hash`` (review_ui.audit_chain),
    and on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE (migration 0008)."""

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="audit_events",
    )
    action = models.CharField(_("action"), max_length=50)
    ad = models.ForeignKey(
        Ad, on_delete=models.PROTECT, null=True, blank=True, related_name="audit"
    )
    item = models.ForeignKey(
        ReviewItem, on_delete=models.PROTECT, null=True, blank=True, related_name="audit"
    )
    detail = models.JSONField(_("detail"), default=dict)
    prev_hash = models.CharField(_("previous row's hash"), max_length=64, default="",
                                 editable=False)
    hash = models.CharField(_("hash"), max_length=64, default="", editable=False)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        # Two rows after one would fork the chain.
        constraints = [models.UniqueConstraint(fields=["prev_hash"],
                                               name="review_ui_auditevent_one_successor")]
        permissions = [("export_auditevent", "Can export the audit log")]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    @classmethod
    def record(cls, actor, action: str, ad: Ad | None = None, item: ReviewItem | None = None,
               detail: dict | None = None, ad_id: int | None = None) -> AuditEvent:
        return cls.objects.create(
            actor=actor if actor is not None and getattr(actor, "pk", None) else None,
            action=action, ad_id=ad.pk if ad is not None else ad_id, item=item,
            detail=detail or {},
        )

    @property
    def action_label(self) -> str:
        """The action as the pages name it (the code itself when it has no name)."""
        return str(AUDIT_ACTIONS.get(self.action, self.action))

    def save(self, *, force_insert: bool = False, force_update: bool = False,
             using: str | None = None, update_fields: Any = None) -> None:
        """Inserts the event at the end of the chain; an event that has a pk is refused."""
        if self.pk is not None or not self._state.adding or force_update or update_fields:
            raise AppendOnlyError("audit events are append-only")
        using = using or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            audit_chain.seal(type(self), [self], using)
            super().save(force_insert=True, using=using)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only")



class ModelVersion(models.Model):
    """A trained model file, as its sidecar describes it (``review_ui.model_registry``).

    At most one version is current (the promoted one); with none promoted, crawls and commands
    use the shipped model. ``previous`` is the version that was current when this one was
    promoted: the one ``tutorwatch model rollback`` returns to."""

    version = models.CharField(_("version"), max_length=100, unique=True)
    path = models.CharField(_("file"), max_length=1000)
    sha256 = models.CharField(_("file SHA-256"), max_length=64)
    trained_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("trained by"))
    # Who trained it as the training named them: a user, the OS user of a command line run
    # that named none, or "scheduler" (migration 0014).
    trained_by_name = models.CharField(_("trained by (name)"), max_length=150, blank=True)
    trained_at = models.DateTimeField(_("trained"), null=True, blank=True)
    examples = models.JSONField(_("data counts"), default=dict)
    metrics = models.JSONField(_("metrics"), default=dict)
    # A candidate's sidecar "compared": its figures and the model it was trained against's on
    # the same data ({"against": version, "figures": {data: {"candidate", "current"}}}).
    compared = models.JSONField(_("compared at training"), default=dict)
    threshold = models.FloatField(_("threshold"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered"), default=timezone.now)
    promoted_at = models.DateTimeField(_("promoted"), null=True, blank=True)
    is_current = models.BooleanField(_("current"), default=False)
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("previous version"))

    class Meta:
        ordering = ["-registered_at", "-pk"]
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        permissions = [("promote_modelversion", "Can promote a model version")]
        constraints = [
            models.UniqueConstraint(fields=["is_current"], condition=Q(is_current=True),
                                    name="one_current_model_version"),
        ]

    def __str__(self) -> str:
        return self.version


class Screenshot(models.Model):
    """One full-page capture of an ad's page by headless Chromium, kept as evidence.

    A row is written when a capture is wanted (the ad was flagged, or a flagged ad was
    re-checked) and filled in by a capture worker: ``ok`` with the PNG, its SHA-256 and the
    capture time, or ``failed`` with the reason. Captures are never deleted with a takedown:
    the ad's latest ``ok`` capture is what the ad looked like."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting")
        OK = "ok", _("captured")
        FAILED = "failed", _("failed")

    class Trigger(models.TextChoices):
        FLAGGED = "flagged", _("flagged")
        RECHECK = "recheck", _("re-check")
        CATCH_UP = "catch_up", _("catch-up")

    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="screenshots",
                           verbose_name=_("ad"))
    trigger = models.CharField(_("why"), max_length=16, choices=Trigger.choices,
                               default=Trigger.FLAGGED)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.PENDING, db_index=True)
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    captured_at = models.DateTimeField(_("captured"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    reason = models.TextField(_("reason for failure"), blank=True)
    image = models.BinaryField(_("image"), blank=True, default=b"")
    sha256 = models.CharField(_("image SHA-256"), max_length=64, blank=True)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    url = models.URLField(_("URL captured"), max_length=2000, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("screenshot")
        verbose_name_plural = _("screenshots")
        indexes = [models.Index(fields=["ad", "status", "-captured_at"],
                                name="screenshot_ad_status")]

    def __str__(self) -> str:
        return f"screenshot #{self.pk} of ad {self.ad_id}"

    @classmethod
    def latest_for(cls, ad: Ad | int) -> Screenshot | None:
        """The ad's latest successful capture, or None."""
        ad_id = ad if isinstance(ad, int) else ad.pk
        return (cls.objects.filter(ad_id=ad_id, status=cls.Status.OK)
                .order_by("-captured_at", "-pk").first())


# --- Intake: ads officers saw themselves, and leads from complaints (review_ui/intake) ----------

# Short words of the intake pages carry the context "intake", so that their translations can
# never clash with another page's same word.
from django.utils.translation import pgettext_lazy  # noqa: E402


class Submission(models.Model):
    """An ad an officer saw where no crawler goes (a WeChat group, a leaflet…) and entered by
    hand (``review_ui.intake.submissions``). The ad itself is an :class:`Ad` stored, classified,
    grouped and queued through the store's one ingest path; this row keeps what only a person
    can tell: where and when it was seen, on which platform, by whom, and the pictures."""

    class Platform(models.TextChoices):
        WECHAT_GROUP = "wechat_group", _("WeChat group")
        MOMENTS = "moments", _("WeChat Moments")
        MINI_PROGRAM = "mini_program", _("mini program")
        DOUYIN = "douyin", _("Douyin")
        XIAOHONGSHU = "xiaohongshu", _("Xiaohongshu")
        APP = "app", pgettext_lazy("intake", "app")
        LEAFLET = "leaflet", _("leaflet or poster")
        OTHER = "other", pgettext_lazy("intake", "other")

    ad = models.OneToOneField(Ad, on_delete=models.PROTECT, related_name="submission",
                              verbose_name=_("ad"))
    platform = models.CharField(pgettext_lazy("intake", "platform"), max_length=16,
                                choices=Platform.choices)
    seen_at = models.DateTimeField(_("seen at"), null=True, blank=True)
    seen_where = models.CharField(_("seen where"), max_length=300, blank=True)
    # Whether the officer gave the ad's address; without one the ad's URL is ``manual:<uuid>``.
    url_given = models.BooleanField(_("URL given"), default=False)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="submissions", verbose_name=_("submitted by"))
    submitted_at = models.DateTimeField(pgettext_lazy("intake", "submitted"), default=timezone.now)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        verbose_name = pgettext_lazy("intake", "submission")
        verbose_name_plural = pgettext_lazy("intake", "submissions")

    def __str__(self) -> str:
        return f"submission #{self.pk} (ad {self.ad_id})"


class SubmissionImage(models.Model):
    """A picture of a submitted ad, as stored: decoded and encoded again by Pillow, so that no
    metadata (EXIF, GPS, comments) and nothing that is not the picture survives. The hash of the
    file the officer sent is kept beside the stored image's."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField(pgettext_lazy("intake", "position"))
    image = models.BinaryField(_("image"))
    content_type = models.CharField(_("content type"), max_length=32)
    sha256 = models.CharField(_("image SHA-256"), max_length=64)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    original_name = models.CharField(_("file name sent"), max_length=200, blank=True)
    original_sha256 = models.CharField(_("SHA-256 of the file sent"), max_length=64)
    original_size = models.PositiveIntegerField(_("size of the file sent"))

    class Meta:
        ordering = ["submission", "position"]
        constraints = [models.UniqueConstraint(fields=["submission", "position"],
                                               name="submission_image_position")]
        verbose_name = _("submission image")
        verbose_name_plural = _("submission images")


class Lead(models.Model):
    """A complaint that names a tutoring provider (``review_ui.intake.leads``): entered by an
    officer, or imported from the 12345 hotline's export (one row per ticket number). Its
    phones and WeChat ids are normalised as ads' contacts are and indexed in
    :class:`LeadContact`, so a lead finds the ads, leads and cases that share one; its
    institution name is kept folded too (``institution_key``) for the same purpose."""

    class Channel(models.TextChoices):
        HOTLINE = "hotline", _("12345 hotline")
        LETTER = "letter", pgettext_lazy("intake", "letter")
        VISIT = "visit", pgettext_lazy("intake", "visit")
        OTHER = "other", pgettext_lazy("intake", "other")

    text = models.TextField(pgettext_lazy("intake", "complaint"))
    place = models.CharField(pgettext_lazy("intake", "place"), max_length=300, blank=True)
    institution = models.CharField(_("institution named"), max_length=200, blank=True)
    institution_key = models.CharField(max_length=200, blank=True, db_index=True)
    phones = models.JSONField(_("phones"), default=list, blank=True)
    wechat_ids = models.JSONField(_("WeChat ids"), default=list, blank=True)
    contacts_raw = models.TextField(_("contacts (as given)"), blank=True)
    channel = models.CharField(pgettext_lazy("intake", "channel"), max_length=16,
                               choices=Channel.choices)
    ticket = models.CharField(_("ticket number"), max_length=64, blank=True)
    received_at = models.DateTimeField(pgettext_lazy("intake", "received"))
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="leads_entered",
                                   verbose_name=_("entered by"))
    entered_at = models.DateTimeField(pgettext_lazy("intake", "entered"), default=timezone.now)
    imported_from = models.CharField(_("imported from"), max_length=300, blank=True)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="leads", verbose_name=_("case"))

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["ticket"], condition=~Q(ticket=""),
                                               name="lead_ticket_unique")]
        verbose_name = pgettext_lazy("intake", "lead")
        verbose_name_plural = pgettext_lazy("intake", "leads")

    def __str__(self) -> str:
        return self.ticket or f"#{self.pk}"  # pages put the word (线索) before it

    def contact_keys(self) -> set[tuple[str, str]]:
        return {(AdContact.PHONE, str(p)[:64]) for p in self.phones if p} | {
            (AdContact.WECHAT, str(w)[:64]) for w in self.wechat_ids if w
        }

    def open_case(self, officer, note: str = "") -> Case:
        """Open a new case for this lead; audited as ``lead.case_opened``."""
        with transaction.atomic():
            case = Case.objects.create(opened_by=officer, note=note)
            self._move_to(officer, case, "lead.case_opened")
        return case

    def join_case(self, officer, case: Case) -> None:
        """Add this lead to an existing case (from another one, if it was in one); audited as
        ``lead.case_joined``."""
        with transaction.atomic():
            self._move_to(officer, case, "lead.case_joined")

    def _move_to(self, officer, case: Case, action: str) -> None:
        current = Lead.objects.select_for_update().get(pk=self.pk)
        detail = {"lead": self.pk, "ticket": self.ticket, "case": case.number}
        if current.case_id is not None:
            detail["from_case"] = current.case.number
        Lead.objects.filter(pk=self.pk).update(case=case)
        AuditEvent.record(officer, action, detail=detail)
        self.case = case


class LeadContact(models.Model):
    """One phone or WeChat id a lead names, indexed as :class:`AdContact` indexes ads'."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="contact_rows")
    kind = models.CharField(_("kind"), max_length=8, choices=AdContact.KINDS)
    value = models.CharField(_("value"), max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "kind", "value"], name="lead_contact_unique"),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="lead_contact_lookup")]
        verbose_name = _("lead contact")
        verbose_name_plural = _("lead contacts")

# The licensing lists' contact index and stored matches (issue 19 point 2), in their own module.
import review_ui.institutions.models  # noqa: E402, F401

# Notes on a case without a decision (issue 20 point 2), in their own module.
from review_ui.case_notes import CaseNote  # noqa: E402, F401

# Operators: ads linked by shared contacts and near-copies (issue 19 point 1), in their module.
from review_ui.operators.models import (  # noqa: E402, F401
    AdOperator,
    Operator,
    OperatorHub,
    OperatorSplit,
)

# Places and officers' digests (issue 19, points 3 and 4), in their own module.
from review_ui.places.models import DigestSubscription  # noqa: E402, F401

# Search terms supervisors add in the admin (issue 18 point 3), in their own module.
from review_ui.search_terms import SearchTerm  # noqa: E402, F401
