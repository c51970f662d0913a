"""``tutorwatch leads import FILE [--by USER]``: import the 12345 hotline's export (CSV or XLSX)
as leads (``review_ui.intake.lead_files`` lists the columns it reads).

Messages are in the UI's language (Chinese by default). A missing column or a bad row is
reported by row number and nothing is imported (exit 1); tickets stored before are left as they
are. ``--by`` names the officer the leads are recorded as entered by (default: none, "imported
from the command line")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from review_ui.intake.lead_files import LeadFileError, import_leads


class Command(BaseCommand):
    help = "Import leads from the 12345 hotline's export (CSV or XLSX)."

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        imported = actions.add_parser("import", help="import a CSV or XLSX export")
        imported.add_argument("file")
        imported.add_argument("--by", help="user name of the officer entering them")

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(settings.LANGUAGE_CODE):
            self._import(Path(options["file"]), options.get("by"))

    def _import(self, path: Path, by: str | None) -> None:
        user = None
        if by:
            user = get_user_model().objects.filter(username=by).first()
            if user is None:
                raise CommandError(_("There is no user %(name)s.") % {"name": by})
        if not path.is_file():
            raise CommandError(_("%(path)s: no such file.") % {"path": path})
        try:
            result = import_leads(path, entered_by=user)
        except LeadFileError as exc:
            for problem in exc.problems:
                self.stderr.write(problem)
            raise CommandError(_("Nothing was imported: %(n)d problem(s) in %(name)s.")
                               % {"n": len(exc.problems), "name": path.name}) from None
        self.stdout.write(_("%(created)d leads imported from %(name)s; %(already)d tickets were "
                            "stored already and left as they were.")
                          % {"created": len(result.created), "name": path.name,
                             "already": len(result.already)})
