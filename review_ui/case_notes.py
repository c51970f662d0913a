"""Notes on a case, written without deciding anything: what a phone call found, what the
district office said. A note is kept forever (never edited) and is an audit row
(``case.note_added``) written in the same transaction."""

from __future__ import annotations

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

MAX_NOTE = 2000


class CaseNote(models.Model):
    case = models.ForeignKey("review_ui.Case", on_delete=models.PROTECT, related_name="notes",
                             verbose_name=_("case"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="case_notes", verbose_name=_("author"))
    text = models.TextField(pgettext_lazy("case note", "note"), max_length=MAX_NOTE)
    written_at = models.DateTimeField(pgettext_lazy("case note", "written"),
                                      default=timezone.now)

    class Meta:
        app_label = "review_ui"
        ordering = ["written_at", "pk"]
        verbose_name = pgettext_lazy("case note", "case note")
        verbose_name_plural = pgettext_lazy("case note", "case notes")

    def __str__(self) -> str:
        return f"{self.case} #{self.pk}"

    @classmethod
    def add(cls, case, author, text: str) -> CaseNote:
        """Add a note to ``case`` and its audit row, together."""
        from review_ui.models import AuditEvent

        with transaction.atomic():
            note = cls.objects.create(case=case, author=author, text=text)
            AuditEvent.record(author, "case.note_added",
                              detail={"case": case.number, "note": text})
        return note
