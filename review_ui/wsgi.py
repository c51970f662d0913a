"""WSGI entry point for gunicorn: ``gunicorn review_ui.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
application = get_wsgi_application()
