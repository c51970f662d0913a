"""Who may call the API, and how.

- ``TokenAuthentication``: DRF's ``Authorization: Token KEY`` (``tutorwatch token USER`` prints
  a user's key). An address that sent ``TUTORWATCH_API_TOKEN_FAILURES`` wrong tokens within an
  hour is answered 429 without its token being looked up (counted in Django's cache, so per
  worker process with the default local-memory cache). Inactive users' tokens are refused.
- ``RolePermission``: the permission a view names in ``required_permission``, from the user's
  role (``review_ui.roles``), checked on the server; a user with no role gets 403.

The views' common base (``review_ui.api.views.ApiView``) adds the browsable page for staff.
This module is named in ``REST_FRAMEWORK`` settings, so it must not import DRF's views.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from review_ui.auth import client_ip


class WrongTokenThrottle(SimpleRateThrottle):
    """Counts the wrong tokens each address sends (``DEFAULT_THROTTLE_RATES``)."""

    scope = "api_token_failures"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "-"}

    def exhausted(self, request: Request) -> bool:
        """Whether the address has used up its wrong tokens, without counting this request."""
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [at for at in self.cache.get(self.key, [])
                        if at > self.now - self.duration]
        return len(self.history) >= self.num_requests

    def count_failure(self, request: Request) -> None:
        self.allow_request(request, None)  # records the attempt while under the limit


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        throttle = WrongTokenThrottle()
        if throttle.exhausted(request):
            raise exceptions.Throttled(throttle.wait())
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle.count_failure(request)
            raise


class RolePermission(BasePermission):
    message = _("Your role does not allow this.")

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = getattr(view, "required_permission", None)
        user = request.user
        return bool(needed and user and user.is_authenticated and user.has_perm(needed))
