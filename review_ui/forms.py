from django import forms
from django.utils.translation import gettext_lazy as _

from review_ui.models import ReviewItem

DECISIONS = [
    (ReviewItem.Status.CONFIRMED, _("Confirm: a suspected violation")),
    (ReviewItem.Status.DISMISSED, _("Dismiss: not a violation")),
    (ReviewItem.Status.ESCALATED, _("Escalate to a case")),
]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=DECISIONS)
    note = forms.CharField(label=_("Note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}))
