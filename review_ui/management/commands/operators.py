"""``tutorwatch operators rebuild``: compute every ad's operator from scratch (a store that held
ads before operators existed, or after ``TUTORWATCH_OPERATOR_HUB_CAP`` changed); splits stay.
``tutorwatch operators hubs``: the contacts that link no ads because too many ads carry them.
``tutorwatch operators show ID``: one operator's figures.

Messages are in the UI's language (Chinese by default)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from review_ui.models import AuditEvent
from review_ui.operators.linking import hub_cap, rebuild
from review_ui.operators.models import Operator, OperatorHub
from review_ui.operators.summary import operator_stats


class Command(BaseCommand):
    help = "Operators: rebuild them from scratch, list hub contacts, show one."

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("rebuild", help="compute every ad's operator from scratch")
        actions.add_parser("hubs", help="list the contacts that link no ads")
        show = actions.add_parser("show", help="one operator's figures")
        show.add_argument("operator_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(settings.LANGUAGE_CODE):
            getattr(self, f"_{options['action']}")(options)

    def _rebuild(self, options: dict[str, Any]) -> None:
        figures = rebuild()
        AuditEvent.record(None, "operators.rebuilt", detail=figures)
        self.stdout.write(
            _(
                "%(ads)d ads in %(operators)d operators (the largest has "
                "%(largest)d ads); %(forwarded)d earlier operators forward to the "
                "one holding their ads now."
            )
            % figures
        )
        self._hub_line(figures["hubs"])

    def _hub_line(self, count: int) -> None:
        if count:
            self.stdout.write(
                _(
                    "%(n)d contacts are carried by more than %(cap)d ads each and "
                    "link no ads (hubs): tutorwatch operators hubs lists them."
                )
                % {"n": count, "cap": hub_cap()}
            )

    def _hubs(self, options: dict[str, Any]) -> None:
        hubs = list(OperatorHub.objects.order_by("-ads", "kind", "value"))
        if not hubs:
            self.stdout.write(
                _("No contact is carried by more than %(cap)d ads.") % {"cap": hub_cap()}
            )
            return
        for hub in hubs:
            self.stdout.write(
                f"{hub.get_kind_display()}\t{hub.value}\t{hub.ads}\t{hub.found_at:%Y-%m-%d %H:%M}"
            )
        self._hub_line(len(hubs))

    def _show(self, options: dict[str, Any]) -> None:
        operator = Operator.objects.filter(pk=options["operator_id"]).first()
        if operator is None:
            raise CommandError(_("There is no operator #%(id)d.") % {"id": options["operator_id"]})
        if operator.merged_into_id is not None:
            self.stdout.write(
                _("Operator #%(id)d was merged into #%(into)d.")
                % {"id": operator.pk, "into": operator.current().pk}
            )
            operator = operator.current()
        stats = operator_stats([operator.pk]).get(operator.pk, {"ads": 0, "sources": 0})
        self.stdout.write(
            _("Operator #%(id)d: %(ads)d ads, %(sources)d sources, %(confirmed)d confirmed")
            % {
                "id": operator.pk,
                "ads": stats["ads"],
                "sources": stats["sources"],
                "confirmed": operator.confirmed,
            }
        )
