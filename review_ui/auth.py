"""Login with throttling against password guessing, the login audit trail, and where each
role lands (``home_url``).

After ``TUTORWATCH_LOGIN_FAILURES`` failed logins for one user name within
``TUTORWATCH_LOGIN_WINDOW_SECONDS`` (counted since that user's last successful login), further
attempts for that name are refused with 429 without checking the password. Only attempts whose
password was checked count: refused ones are audited but never extend the lock-out, which ends
when the failures that caused it leave the window. An address is refused for every name once
it has failed for four times the limit of *different* names (names that then logged in
successfully do not count): that stops one address trying a password on many accounts, while
one person guessing behind an office's shared address locks out only the name they guess.
Behind a proxy (``TUTORWATCH_HTTPS``), the address is the last one the proxy appended to
X-Forwarded-For.

The decision and the record of the attempt are one step under a lock per name and per address
(a PostgreSQL advisory lock; SQLite's transactions take the write lock when they begin), so
parallel guesses get exactly the limit's number of password checks. An attempt is recorded as
a failure before its password is checked and removed if it succeeds. Attempts older than the
window are deleted at each login.

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
from django.db import connection, transaction
from django.db.models import Max
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
    since = timezone.now() - timedelta(seconds=settings.TUTORWATCH_LOGIN_WINDOW_SECONDS)
    limit = settings.TUTORWATCH_LOGIN_FAILURES
    last_success = (
        LoginAttempt.objects.filter(username=key, succeeded=True, at__gte=since)
        .values_list("at", flat=True).first()
    )
    user_since = max(since, last_success) if last_success else since
    failures = LoginAttempt.objects.filter(username=key, succeeded=False, at__gt=user_since)
    if failures.count() >= limit:
        return True
    return bool(ip) and len(_names_guessed_from(ip, since)) >= 4 * limit


def _names_guessed_from(ip: str, since: Any) -> list[str]:
    """The names that failed from ``ip`` since ``since`` and have not logged in since."""
    failed = dict(
        LoginAttempt.objects.filter(ip=ip, succeeded=False, at__gte=since)
        .values("username").annotate(last=Max("at")).order_by().values_list("username", "last")
    )
    logged_in = dict(
        LoginAttempt.objects.filter(username__in=list(failed), succeeded=True, at__gte=since)
        .values("username").annotate(last=Max("at")).order_by().values_list("username", "last")
    )
    return [name for name, at in failed.items() if name not in logged_in or at > logged_in[name]]


def _lock(key: str, ip: str | None) -> None:
    """Serialise throttle decisions about this name and this address until the transaction
    ends. SQLite needs nothing: its transactions begin IMMEDIATE (settings), holding the
    database's write lock. Every request takes the name's lock before the address's, so two
    never wait for each other in a cycle."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for scope, value in (("name", key), ("ip", ip)):
            if value:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                               [f"tutorwatch-login-{scope}:{value}"])


def reserve_check(key: str, ip: str | None) -> int | None:
    """Decide whether this attempt's password may be checked, and if so record the attempt as
    a failure in the same locked step (the caller removes it when the password is right).
    Returns that row's id, or None when the attempt is refused."""
    with transaction.atomic():
        _lock(key, ip)
        if is_throttled(key, ip):
            return None
        return LoginAttempt.objects.create(username=key, ip=ip, succeeded=False).pk


def prune_attempts() -> int:
    """Delete attempts older than the window: nothing reads them any more."""
    since = timezone.now() - timedelta(seconds=settings.TUTORWATCH_LOGIN_WINDOW_SECONDS)
    return LoginAttempt.objects.filter(at__lt=since).delete()[0]


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
        if not username.strip() or not request.POST.get("password"):
            # The form refuses an empty field without checking any password: nothing to count.
            return super().post(request, *args, **kwargs)
        key = throttle_key(username)
        ip = client_ip(request)
        prune_attempts()
        reserved = reserve_check(key, ip)
        if reserved is None:
            AuditEvent.record(None, "user.login_refused", detail={"username": username, "ip": ip})
            form = self.get_form()
            context = self.get_context_data(form=form, throttled=True)
            return self.render_to_response(context, status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            # Not a failure after all; the login itself is recorded by _logged_in.
            LoginAttempt.objects.filter(pk=reserved).delete()
        else:
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
