"""Middleware of the review UI.

- ``ContentSecurityPolicyMiddleware`` sends ``settings.TUTORWATCH_CSP`` and a Permissions-Policy
  on every response that has none of its own: even if crawled markup ever reached a page,
  the browser would run no inline script, load nothing from elsewhere and post nowhere else.
- ``SessionIdleTimeoutMiddleware`` ends a session unused for
  ``settings.TUTORWATCH_SESSION_IDLE_SECONDS``, and any session ``SESSION_COOKIE_AGE`` seconds
  after its login however busy it is (Django's own expiry restarts whenever the session is
  saved, which this middleware does every minute of activity). The login time is stored in the
  session at login (``review_ui.auth``); a session without one is ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
_LAST_SEEN = "tutorwatch_last_seen"
LOGIN_AT = "tutorwatch_login_at"
# Refresh the last-seen time at most this often, so that reading pages does not write the
# session row on every request.
_TOUCH_EVERY = 60


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.TUTORWATCH_CSP)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class SessionIdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            login_at = request.session.get(LOGIN_AT)
            if login_at is None or now - int(login_at) >= settings.SESSION_COOKIE_AGE:
                logout(request)
                messages.info(request, _("Your session has reached its longest allowed time. "
                                         "Please log in again."))
                return redirect_to_login(request.get_full_path())
            last = request.session.get(_LAST_SEEN)
            if last is not None and now - int(last) > settings.TUTORWATCH_SESSION_IDLE_SECONDS:
                logout(request)
                messages.info(request, _("Your session ended after a period without activity."))
                return redirect_to_login(request.get_full_path())
            if last is None or now - int(last) >= _TOUCH_EVERY:
                request.session[_LAST_SEEN] = now
        return self.get_response(request)
