"""The operator tables: operators, which operator each ad belongs to, and hub contacts.

An operator is a union-find set kept flat: every ad's row names its set's current operator, so
"which operator is this ad's" is one indexed read. Sets are merged by relabelling the smaller
one's ads (union by size), so an ad is relabelled at most log2(n) times over the store's life.

``pin``: a supervisor's split (``linking.split``) gives the two parts different pins; operators
with different pins are never merged again, whatever ads arrive later. ``merged_into``: an
operator merged into another stays as a forwarding row, so old links still lead somewhere.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy as p_

from review_ui.models import AUDIT_ACTIONS, Ad, AdContact, Decision


class Operator(models.Model):
    """A set of ads linked by shared contacts or near-copies: presumably one operator."""

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    size = models.PositiveIntegerField(_("ads"), default=0)
    # Review items of its ads confirmed or escalated, kept up to date by decisions, merges and
    # splits: the queue ranks the other items of such an operator higher.
    confirmed = models.PositiveIntegerField(p_("operators", "confirmed violations"), default=0)
    pin = models.PositiveBigIntegerField(p_("operators", "split mark"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=p_("operators", "merged into"),
    )

    class Meta:
        ordering = ["-size", "pk"]
        permissions = [("split_operator", "Can split an operator")]
        verbose_name = p_("operators", "operator")
        verbose_name_plural = p_("operators", "operators")

    def __str__(self) -> str:
        return f"operator #{self.pk}"

    def current(self) -> Operator:
        """This operator, or the one it was (eventually) merged into."""
        operator, seen = self, {self.pk}
        while operator.merged_into_id is not None and operator.merged_into_id not in seen:
            seen.add(operator.merged_into_id)
            operator = Operator.objects.get(pk=operator.merged_into_id)
        return operator


class AdOperator(models.Model):
    """The operator of one ad (every linked ad has exactly one row)."""

    ad = models.OneToOneField(
        Ad, on_delete=models.CASCADE, primary_key=True, related_name="operator_link"
    )
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="members")
    # The operator's pin, on each of its ads, so that a rebuild keeps a split apart.
    pin = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = p_("operators", "ad's operator")
        verbose_name_plural = p_("operators", "ads' operators")


class OperatorHub(models.Model):
    """A contact carried by more ads than ``TUTORWATCH_OPERATOR_HUB_CAP``: a platform's
    customer-service number or an agency's shared account. It links no ads."""

    kind = models.CharField(_("kind"), max_length=8, choices=AdContact.KINDS)
    value = models.CharField(_("value"), max_length=64)
    ads = models.PositiveIntegerField(p_("operators", "ads when found"))
    found_at = models.DateTimeField(p_("operators", "found"), default=timezone.now)

    class Meta:
        ordering = ["-ads"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="operator_hub_unique")
        ]
        verbose_name = p_("operators", "hub contact")
        verbose_name_plural = p_("operators", "hub contacts")

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class OperatorSplit(models.Model):
    """A supervisor's split of an operator: the ads moved to a new operator, and the pins that
    keep the two parts apart from now on (``pin_moved``, ``pin_kept``)."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="splits")
    new_operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    ads_moved = models.PositiveIntegerField(p_("operators", "ads moved"))
    note = models.TextField(_("note"))
    split_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=p_("operators", "split by"),
    )
    split_at = models.DateTimeField(p_("operators", "split"), default=timezone.now)

    class Meta:
        ordering = ["-split_at"]
        verbose_name = p_("operators", "operator split")
        verbose_name_plural = p_("operators", "operator splits")

    @property
    def pin_kept(self) -> int:
        return 2 * self.pk

    @property
    def pin_moved(self) -> int:
        return 2 * self.pk + 1


AUDIT_ACTIONS.update(
    {
        "operator.merged": p_("operators", "operators merged"),
        "operator.split": p_("operators", "operator split"),
        "operator.hub_found": p_("operators", "contact found to be a hub"),
        "operators.rebuilt": p_("operators", "operators rebuilt"),
    }
)


def _decision_saved(sender, instance: Decision, created: bool, **kwargs) -> None:
    if created:
        from review_ui.operators.summary import decision_recorded

        decision_recorded(instance)


post_save.connect(_decision_saved, sender=Decision, dispatch_uid="operators_decision_saved")
