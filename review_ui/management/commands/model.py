"""``tutorwatch model list | register FILE | promote VERSION [--force] | rollback``: the model
versions in the store (``review_ui.model_registry``).

``promote`` is refused when the candidate's F1 is worse than the current model's on the corpus
test split or the held-out decisions by more than ``TUTORWATCH_PROMOTE_TOLERANCE`` (default
0.01), unless ``--force`` (audited as forced). A refusal changes nothing and exits 1. The audit
rows name the OS user who ran the command; ``register`` records ``--trained-by USER`` or, without
it, the sidecar's ``trained_by`` or the OS user as who trained the model."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, no_translations

from review_ui import model_registry
from review_ui.models import ModelVersion


def _f1s(metrics: dict[str, Any]) -> str:
    return " ".join(f"{split}={figures['f1']:.4f}" for split, figures in sorted(metrics.items())
                    if isinstance(figures, dict) and isinstance(figures.get("f1"), int | float))


class Command(BaseCommand):
    help = "List, register, promote and roll back model versions."

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="the registered versions, the current one marked *")
        register = actions.add_parser("register", help="record a trained model file")
        register.add_argument("file")
        register.add_argument("--trained-by", help="user name of who trained it (default: the "
                                                   "OS user running this command)")
        promote = actions.add_parser("promote", help="make a version the current model")
        promote.add_argument("version")
        promote.add_argument("--force", action="store_true",
                             help="promote even if it is worse than the current model (audited)")
        actions.add_parser("rollback", help="return to the previously current version")

    @no_translations  # the command line speaks English; the pages and alerts Chinese
    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except model_registry.RegistryError as exc:
            raise CommandError(str(exc)) from None

    def _list(self, options: dict[str, Any]) -> None:
        versions = list(ModelVersion.objects.select_related("trained_by"))
        if not any(v.is_current for v in versions):
            self.stdout.write("* (shipped model)")
        for v in versions:
            trained = v.trained_at.isoformat() if v.trained_at else "-"
            by = v.trained_by_name or (v.trained_by.get_username() if v.trained_by else "-")
            self.stdout.write(f"{'*' if v.is_current else ' '} {v.version}\t{trained}\t{by}\t"
                              f"{_f1s(v.metrics)}\t{v.path}")

    def _register(self, options: dict[str, Any]) -> None:
        user = None
        if options["trained_by"]:
            user = get_user_model().objects.filter(username=options["trained_by"]).first()
            if user is None:
                raise CommandError(f"no user {options['trained_by']!r}")
        version = model_registry.register_model(
            options["file"], trained_by=user, default_name=model_registry.os_user())
        self.stdout.write(f"registered {version.version} ({version.sha256[:12]})")

    def _promote(self, options: dict[str, Any]) -> None:
        comparison = model_registry.promote(options["version"], force=options["force"],
                                            by=model_registry.os_user())
        for line in comparison.describe():
            self.stdout.write(f"  {line}")
        forced = " (forced)" if not comparison.acceptable else ""
        self.stdout.write(f"promoted {options['version']}{forced}")

    def _rollback(self, options: dict[str, Any]) -> None:
        back_to = model_registry.rollback(by=model_registry.os_user())
        self.stdout.write(f"rolled back to {back_to.version if back_to else 'the shipped model'}")
