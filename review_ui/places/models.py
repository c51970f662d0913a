"""Officers' subscriptions to a digest of new high-score items in their townships (issue 19,
point 4), sent by ``review_ui.places.digests`` on the scheduler's digest job."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import pgettext_lazy


class DigestSubscription(models.Model):
    class Frequency(models.TextChoices):
        HOURLY = "hourly", pgettext_lazy("places", "hourly")
        DAILY = "daily", pgettext_lazy("places", "daily")

    class Channel(models.TextChoices):
        # The bureau's own robot (TUTORWATCH_ALERT_WEBHOOK): robot URLs carry a token, so an
        # officer picks the configured one, never types one in.
        WEBHOOK = "webhook", pgettext_lazy("places", "DingTalk/WeCom robot")
        EMAIL = "email", pgettext_lazy("places", "email to my address")

    PERIODS = {Frequency.HOURLY: timedelta(hours=1), Frequency.DAILY: timedelta(days=1)}

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="digest_subscriptions",
        verbose_name=pgettext_lazy("places", "officer"),
    )
    district = models.CharField(pgettext_lazy("places", "district"), max_length=32)
    # Empty: every township of the district.
    townships = models.JSONField(pgettext_lazy("places", "townships"), default=list, blank=True)
    frequency = models.CharField(
        pgettext_lazy("places", "frequency"),
        max_length=8,
        choices=Frequency,
        default=Frequency.DAILY,
    )
    channel = models.CharField(
        pgettext_lazy("places", "channel"), max_length=8, choices=Channel, default=Channel.EMAIL
    )
    min_score = models.FloatField(pgettext_lazy("places", "lowest score"), default=0.8)
    created_at = models.DateTimeField(pgettext_lazy("places", "created"), default=timezone.now)
    # Items queued after this were not sent yet; the next digest covers them.
    covered_until = models.DateTimeField(
        pgettext_lazy("places", "covered until"), default=timezone.now
    )
    last_sent_at = models.DateTimeField(pgettext_lazy("places", "last sent"), null=True, blank=True)
    last_outcome = models.CharField(
        pgettext_lazy("places", "last outcome"), max_length=300, blank=True
    )

    class Meta:
        ordering = ["user_id", "district", "pk"]
        verbose_name = pgettext_lazy("places", "digest subscription")
        verbose_name_plural = pgettext_lazy("places", "digest subscriptions")

    def __str__(self) -> str:
        places = "、".join(self.townships) or str(pgettext_lazy("places", "all townships"))
        return f"{self.user} · {self.district} · {places} · {self.get_frequency_display()}"

    def due(self, now=None) -> bool:
        now = now or timezone.now()
        # A few minutes of slack: an hourly job that fires at 10:00:02 after one at 09:00:05.
        return now - self.covered_until >= self.PERIODS[self.frequency] - timedelta(minutes=5)
