"""Reason codes of review decisions, and the labels of the classifier's categories.

A confirmed or escalated item names its violation form; a dismissed one names why it is not a
violation. The codes are the ``category`` codes of LABELING.md, so a decision can flow back into
the labeled corpus as it is; ``duplicate`` is the one reason that is not a category.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

VIOLATION_REASONS = [
    ("open_tutoring", _("open tutoring")),
    ("tuoguan", _("after-school care (托管)")),
    ("study_room", _("study room (自习室)")),
    ("housekeeping", _("housekeeping / live-in tutor")),
    ("crowdfunded", _("crowdfunded private teacher")),
    ("camp", _("camp / study trip (研学)")),
    ("consulting_rebrand", _("consulting / quality-education rebrand")),
    ("online", _("online classes")),
    ("inservice_teacher", _("in-service teacher")),
    ("recruitment", _("teacher recruitment")),
    ("preschool", _("preschool subject teaching")),
]
DISMISSAL_REASONS = [
    ("news_or_notice", _("news or notice")),
    ("non_subject", _("non-subject training")),
    ("adult", _("adult training")),
    ("pure_care", _("pure care")),
    ("unrelated", _("unrelated")),
    ("duplicate", _("duplicate of another ad")),
    ("school_service", _("school after-school service")),
    ("inquiry", _("parent inquiry")),
]
VIOLATION_CODES = frozenset(code for code, _label in VIOLATION_REASONS)
DISMISSAL_CODES = frozenset(code for code, _label in DISMISSAL_REASONS)
REASON_CHOICES = [
    (_("Violation form"), VIOLATION_REASONS),
    (_("Dismissal reason"), DISMISSAL_REASONS),
]
# Every category the classifier may name, and every reason, with its label.
CATEGORY_LABELS = dict(VIOLATION_REASONS + DISMISSAL_REASONS)
