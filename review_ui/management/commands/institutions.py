"""``tutorwatch institutions import FILE [--list licensed|blacklisted] [--by USER]``: import a
bureau's white or black list of training institutions (CSV or XLSX;
``review_ui.institutions.lists`` lists the columns it reads).

Messages are in the UI's language (Chinese by default). A bad row is reported by its row number
and nothing is imported (exit 1). ``--list`` says which list a file without a 名单 column (or a
row with an empty one) is. ``--by`` names the user the import is recorded as done by."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from review_ui.institutions.lists import ListFileError, import_list
from review_ui.models import Institution


class Command(BaseCommand):
    help = "Import a white or black list of training institutions (CSV or XLSX)."

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        imported = actions.add_parser("import", help="import a CSV or XLSX list")
        imported.add_argument("file")
        imported.add_argument("--list", choices=Institution.Kind.values, default="",
                              help="the list of rows that do not say (no 名单 column)")
        imported.add_argument("--by", help="user name of the person importing it")

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(settings.LANGUAGE_CODE):
            self._import(Path(options["file"]), options.get("list") or "", options.get("by"))

    def _import(self, path: Path, default_list: str, by: str | None) -> None:
        user = None
        if by:
            user = get_user_model().objects.filter(username=by).first()
            if user is None:
                raise CommandError(_("There is no user %(name)s.") % {"name": by})
        if not path.is_file():
            raise CommandError(_("%(path)s: no such file.") % {"path": path})
        try:
            result = import_list(path, default_list=default_list, imported_by=user)
        except ListFileError as exc:
            for problem in exc.problems:
                self.stderr.write(problem)
            raise CommandError(_("Nothing was imported: %(n)d problem(s) in %(name)s.")
                               % {"n": len(exc.problems), "name": path.name}) from None
        self.stdout.write(_("%(created)d institutions added and %(updated)d updated from "
                            "%(name)s.") % {"created": len(result.created),
                                            "updated": len(result.updated), "name": path.name})
