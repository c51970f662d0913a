from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _create_roles(sender: AppConfig, **kwargs: object) -> None:
    from review_ui.roles import ensure_roles

    ensure_roles()


class ReviewUIConfig(AppConfig):
    name = "review_ui"
    verbose_name = _("Review queue")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from review_ui import auth  # noqa: F401 - connects the login audit receivers
        from review_ui.institutions import matching  # noqa: F401 - re-indexes saved institutions

        post_migrate.connect(_create_roles, sender=self)
