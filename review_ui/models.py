"""The store: sources, crawl runs, ads, verdicts, review items, decisions and the audit log.

State changes that officers make are model methods that write their audit row in the same
transaction. The audit log is append-only: the application never updates or deletes a row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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

    class Meta:
        ordering = ["-fetched_at"]
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


class NearDuplicateKey(models.Model):
    """One MinHash band of an ad's text: ads that share a key are candidate copies."""

    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="near_duplicate_keys")
    key = models.BigIntegerField(db_index=True)

    class Meta:
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

    class Meta:
        ordering = ["-priority", "-created_at"]
        verbose_name = _("review item")
        verbose_name_plural = _("review items")

    def __str__(self) -> str:
        return f"{self.ad} ({self.status})"

    def decide(self, officer, decision: str, note: str = "") -> Decision:
        """Record an officer's decision. Only a pending item can be decided: the row is locked,
        re-read and checked inside the transaction, so of two racing officers exactly one wins."""
        if decision not in (self.Status.CONFIRMED, self.Status.DISMISSED, self.Status.ESCALATED):
            raise ValueError(f"unknown decision {decision!r}")
        with transaction.atomic():
            updated = ReviewItem.objects.filter(pk=self.pk, status=self.Status.PENDING).update(
                status=decision, updated_at=timezone.now()
            )
            if not updated:
                raise AlreadyDecided(self.pk)
            made = Decision.objects.create(item=self, officer=officer, decision=decision, note=note)
            AuditEvent.record(
                officer, "item.decided", ad=self.ad, item=self,
                detail={"decision": decision, "note": note, "decision_id": made.pk},
            )
        self.status = decision
        return made


class Decision(models.Model):
    item = models.ForeignKey(ReviewItem, on_delete=models.PROTECT, related_name="decisions")
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    decision = models.CharField(_("decision"), max_length=16, choices=ReviewItem.Status)
    note = models.TextField(_("note"), blank=True)
    decided_at = models.DateTimeField(_("decided"), default=timezone.now)

    class Meta:
        ordering = ["-decided_at"]
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")


class AppendOnlyError(Exception):
    pass


class AuditEvent(models.Model):
    """One line of the audit log. Rows are written once and never changed by the application."""

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="audit_events",
    )
    action = models.CharField(_("action"), max_length=50)
    ad = models.ForeignKey(Ad, on_delete=models.PROTECT, null=True, blank=True, related_name="audit")
    item = models.ForeignKey(
        ReviewItem, on_delete=models.PROTECT, null=True, blank=True, related_name="audit"
    )
    detail = models.JSONField(_("detail"), default=dict)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    @classmethod
    def record(cls, actor, action: str, ad: Ad | None = None, item: ReviewItem | None = None,
               detail: dict | None = None) -> AuditEvent:
        return cls.objects.create(
            actor=actor if actor is not None and getattr(actor, "pk", None) else None,
            action=action, ad=ad, item=item, detail=detail or {},
        )

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only")
