"""Login with throttling against password guessing, the login audit trail, and where each
role lands (``home_url``).

After ``TUTORWATCH_LOGIN_FAILURES`` failed logins for one user name within
``TUTORWATCH_LOGIN_WINDOW_SECONDS`` (counted since that user's last successful login), further
attempts for that name are refused with 429 without checking the password, until the window
passes; an address that fails four times as often is refused for every name. Behind a proxy
(``TUTORWATCH_HTTPS``), the address is the last one the proxy appended to X-Forwarded-For.

Attempts are counted under the name as the login form reads it (NFKC, stripped) and casefolded,
so "officer1 ", full-width "ｏｆｆｉｃｅｒ1" and "OFFICER1" count as guesses at "officer1".
"""

from __future__ import annotations

import time
import unicodedata
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from review_ui.middleware import LOGIN_AT
from review_ui.models import AuditEvent, LoginAttempt

# Officers and supervisors work the queue; this permission opens it.
QUEUE_PERMISSION = "review_ui.view_reviewitem"


def home_url(user: Any) -> str:
    """Where a user lands (after logging in, and from a 403 page): the queue for those who may
    see it, the admin for the other staff (admins), and otherwise the page telling a user
    without a role whom to ask. Every one of them opens for that user."""
    if user.has_perm(QUEUE_PERMISSION):
        return reverse("review_ui:queue")
    if user.is_active and user.is_staff:
        return reverse("admin:index")
    return reverse("review_ui:home")


def client_ip(request: HttpRequest) -> str | None:
    if getattr(settings, "HTTPS", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def throttle_key(username: str) -> str:
    """The name failed logins are counted under: every spelling that the login form would turn
    into the same user name (it applies NFKC and strips blanks), and every case of it."""
    return unicodedata.normalize("NFKC", username).strip().casefold()[:150]


def is_throttled(key: str, ip: str | None) -> bool:
    """``key`` is a user name through ``throttle_key``."""
    now = timezone.now()
    since = now - timedelta(seconds=settings.TUTORWATCH_LOGIN_WINDOW_SECONDS)
    limit = settings.TUTORWATCH_LOGIN_FAILURES
    last_success = (
        LoginAttempt.objects.filter(username=key, succeeded=True, at__gte=since)
        .values_list("at", flat=True).first()
    )
    user_since = max(since, last_success) if last_success else since
    failures = LoginAttempt.objects.filter(username=key, succeeded=False, at__gt=user_since)
    if failures.count() >= limit:
        return True
    if ip:
        by_ip = LoginAttempt.objects.filter(ip=ip, succeeded=False, at__gte=since)
        if by_ip.count() >= 4 * limit:
            return True
    return False


class ThrottledLoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def get_success_url(self) -> str:
        wanted = self.get_redirect_url()
        # Opening the site sends everyone to the login with next=/ (the queue): someone who
        # may not see the queue lands on their own start page instead.
        if wanted and (urlsplit(wanted).path != reverse("review_ui:queue")
                       or self.request.user.has_perm(QUEUE_PERMISSION)):
            return wanted
        return home_url(self.request.user)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = (request.POST.get("username") or "")[:150]
        key = throttle_key(username)
        ip = client_ip(request)
        if is_throttled(key, ip):
            LoginAttempt.objects.create(username=key, ip=ip, succeeded=False)
            AuditEvent.record(None, "user.login_refused", detail={"username": username, "ip": ip})
            form = self.get_form()
            context = self.get_context_data(form=form, throttled=True)
            return self.render_to_response(context, status=429)
        response = super().post(request, *args, **kwargs)
        if not request.user.is_authenticated:
            LoginAttempt.objects.create(username=key, ip=ip, succeeded=False)
            AuditEvent.record(None, "user.login_failed", detail={"username": username, "ip": ip})
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if context.get("throttled"):
            context["throttle_message"] = _(
                "Too many failed logins. Wait %(minutes)d minutes, or ask an administrator."
            ) % {"minutes": max(1, settings.TUTORWATCH_LOGIN_WINDOW_SECONDS // 60)}
        return context


@receiver(user_logged_in)
def _logged_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    ip = client_ip(request) if request is not None else None
    if request is not None and hasattr(request, "session"):
        # The session ends SESSION_COOKIE_AGE after this, however busy it is (middleware).
        request.session[LOGIN_AT] = int(time.time())
    LoginAttempt.objects.create(username=throttle_key(user.get_username()), ip=ip,
                                succeeded=True)
    AuditEvent.record(user, "user.logged_in", detail={"ip": ip})


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is not None:
        AuditEvent.record(user, "user.logged_out")
