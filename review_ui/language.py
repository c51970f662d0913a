"""The page language: the one the user chose in the language menu, else ``LANGUAGE_CODE``.

Django's LocaleMiddleware follows the browser's Accept-Language, so a bureau PC with an English
Windows got the English UI, although the deployment is for Chinese officers and says so in
``LANGUAGE_CODE``. The browser is no one's choice; the menu (django.views.i18n.set_language,
which stores its choice in the language cookie) is.

The REST API is the exception: a program has no menu, and docs/api.md promises its messages in
the language of ``Accept-Language`` (Chinese when it names none we offer), so under /api/ the
header is still read, as LocaleMiddleware did.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

API_PREFIX = "/api/"


def chosen_language(request: HttpRequest) -> str:
    """The language of the menu's cookie when it names one of LANGUAGES, else LANGUAGE_CODE
    (for the API: Django's choice, which reads Accept-Language)."""
    if request.path_info.startswith(API_PREFIX):
        return translation.get_language_from_request(request)
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen:
        try:
            return translation.get_supported_language_variant(chosen)
        except LookupError:
            pass  # a stale or forged cookie: fall back to the deployment's language
    return settings.LANGUAGE_CODE


class DefaultLanguageMiddleware:
    """Activates chosen_language for the request (in LocaleMiddleware's place)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        translation.activate(chosen_language(request))
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response
