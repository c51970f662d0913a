"""The licensing lists' tables beside ``Institution``: its contact index, the version of the
lists, and the stored matches of ads to institutions (``review_ui.institutions.matching``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class InstitutionContact(models.Model):
    """One phone or WeChat id of a listed institution, as ``AdContact`` indexes an ad's: an ad's
    contacts find their institutions by this index, never by reading the list."""

    institution = models.ForeignKey("review_ui.Institution", on_delete=models.CASCADE,
                                    related_name="contact_rows")
    kind = models.CharField(_("kind"), max_length=8)  # AdContact.PHONE or AdContact.WECHAT
    value = models.CharField(_("value"), max_length=64)

    class Meta:
        app_label = "review_ui"
        constraints = [models.UniqueConstraint(fields=["institution", "kind", "value"],
                                               name="institution_contact_unique")]
        indexes = [models.Index(fields=["kind", "value"], name="institution_contact_lookup")]
        verbose_name = _("institution contact")
        verbose_name_plural = _("institution contacts")


class InstitutionListVersion(models.Model):
    """One row whose number changes (at random) with every change to the lists: an ad matched
    under another number is matched again when next read."""

    number = models.PositiveBigIntegerField(default=0)

    class Meta:
        app_label = "review_ui"


class AdInstitutionCheck(models.Model):
    """That an ad was matched against the lists, and against which version of them."""

    ad = models.OneToOneField("review_ui.Ad", on_delete=models.CASCADE, primary_key=True,
                              related_name="institution_check")
    list_version = models.PositiveBigIntegerField()
    # What of the ad was matched (matching.ad_stamp): a re-crawl that changes it matches again.
    ad_stamp = models.CharField(max_length=40)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "review_ui"


class InstitutionMatch(models.Model):
    """An ad linked to a listed institution: how (the same phone, WeChat id, or a name) and how
    sure (100 for a contact or an exact brand; the rapidfuzz score of a near name)."""

    class Method(models.TextChoices):
        PHONE = "phone", _("same phone")
        WECHAT = "wechat", _("same WeChat id")
        NAME = "name", _("by name")

    ad = models.ForeignKey("review_ui.Ad", on_delete=models.CASCADE,
                           related_name="institution_matches")
    institution = models.ForeignKey("review_ui.Institution", on_delete=models.CASCADE,
                                    related_name="matches")
    method = models.CharField(_("matched by"), max_length=8, choices=Method)
    score = models.FloatField(_("score"))
    words = models.CharField(_("matched on"), max_length=100, blank=True)

    class Meta:
        app_label = "review_ui"
        constraints = [models.UniqueConstraint(fields=["ad", "institution"],
                                               name="institution_match_unique")]
        verbose_name = _("institution match")
        verbose_name_plural = _("institution matches")
