"""Officers' subscriptions to a digest of new high-score items in their townships (issue 19,
point 4), sent by ``review_ui.places.digests`` on the scheduler's digest job."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DigestSubscription(models.Model):
    class Frequency(models.TextChoices):
        HOURLY = "hourly", _("hourly")
        DAILY = "daily", _("daily")

    class Channel(models.TextChoices):
        # The bureau's own robot (TUTORWATCH_ALERT_WEBHOOK): robot URLs carry a token, so an
        # officer picks the configured one, never types one in.
        WEBHOOK = "webhook", _("DingTalk/WeCom robot")
        EMAIL = "email", _("email to my address")

    PERIODS = {Frequency.HOURLY: timedelta(hours=1), Frequency.DAILY: timedelta(days=1)}

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="digest_subscriptions",
        verbose_name=_("officer"),
    )
    district = models.CharField(_("district"), max_length=32)
    # Empty: every township of the district.
    townships = models.JSONField(_("townships"), default=list, blank=True)
    frequency = models.CharField(
        _("frequency"), max_length=8, choices=Frequency, default=Frequency.DAILY
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel, default=Channel.EMAIL)
    min_score = models.FloatField(_("lowest score"), default=0.8)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Items queued after this were not sent yet; the next digest covers them.
    covered_until = models.DateTimeField(_("covered until"), default=timezone.now)
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    last_outcome = models.CharField(_("last outcome"), max_length=300, blank=True)

    class Meta:
        ordering = ["user_id", "district", "pk"]
        verbose_name = _("digest subscription")
        verbose_name_plural = _("digest subscriptions")

    def __str__(self) -> str:
        places = "、".join(self.townships) or str(_("all townships"))
        return f"{self.user} · {self.district} · {places} · {self.get_frequency_display()}"

    def due(self, now=None) -> bool:
        now = now or timezone.now()
        # A few minutes of slack: an hourly job that fires at 10:00:02 after one at 09:00:05.
        return now - self.covered_until >= self.PERIODS[self.frequency] - timedelta(minutes=5)
