"""Django settings of tutorwatch.

Every value an operator may change comes from the environment (see README, "Configuration"):

- ``TUTORWATCH_DB``: database URL (``sqlite:///path.db``, ``postgresql://user@host/name``);
  default: a SQLite file in the data directory.
- ``TUTORWATCH_DATA_DIR``: data directory (default ``~/.local/share/tutorwatch``).
- ``TUTORWATCH_SECRET_KEY``: Django's secret key; without it one is generated once and kept in
  the data directory (mode 0600).
- ``TUTORWATCH_DEBUG``: development mode (default off).
- ``TUTORWATCH_ALLOWED_HOSTS``: comma-separated host names (default ``127.0.0.1,localhost``).
- ``TUTORWATCH_MODEL``: the classifier model file (default: the shipped model).
- ``TUTORWATCH_FLAG_THRESHOLD``: score at or above which an ad is flagged (default: the
  model's own).
- ``TUTORWATCH_SAMPLE_RATE``: share of the unflagged new ads queued as the exploration sample
  (default 0.03).
- ``TUTORWATCH_PROMOTE_TOLERANCE``: how much lower a model version's F1 may be than the current
  model's for ``tutorwatch model promote`` to accept it without ``--force`` (default 0.01).
- ``TUTORWATCH_HTTPS``: the UI is served over HTTPS (behind a TLS proxy): secure cookies, HSTS,
  redirect to HTTPS, trust ``X-Forwarded-Proto`` from the proxy (default off).
- ``TUTORWATCH_CSRF_TRUSTED_ORIGINS``: comma-separated origins (``https://review.example.gov.cn``).
- ``TUTORWATCH_SESSION_HOURS``: a login lasts this long at most (default 8).
- ``TUTORWATCH_SESSION_IDLE_MINUTES``: a session unused this long ends (default 60).
- ``TUTORWATCH_CLAIM_MINUTES``: how long an officer's claim on a review item holds (default 30).
- ``TUTORWATCH_LOGIN_FAILURES``: failed logins allowed per user name within
  ``TUTORWATCH_LOGIN_WINDOW_MINUTES`` before logins for it are refused (defaults 5 and 15); an
  address is refused after failing for 4× as many different names.
- ``TUTORWATCH_QUEUE_COUNTS_SECONDS``: how long a worker keeps the queue's tab counts (10).
- ``TUTORWATCH_DB_CONN_MAX_AGE``: seconds a database connection is kept between requests (300).
- ``TUTORWATCH_API_TOKEN_FAILURES``: wrong API tokens one address may send per hour before the
  API answers it 429 (default 20).
- ``TUTORWATCH_LOG_FORMAT``: ``text`` (default) or ``json``, one object a line for log shippers.


Operations (docs/deploy.md lists them all): ``TUTORWATCH_SOURCES_DIR``, ``TUTORWATCH_REDIS_URL``,
``TUTORWATCH_REDIS_PREFIX``, ``TUTORWATCH_RECHECK_*``, ``TUTORWATCH_TRAIN_SCHEDULE``,
``TUTORWATCH_AUTO_PROMOTE``, ``TUTORWATCH_RUN_STALE_MINUTES``,
``TUTORWATCH_MONITOR_*``, ``TUTORWATCH_ALERT_*``, ``TUTORWATCH_EMAIL_*``, ``TUTORWATCH_UI_URL``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from review_ui.env import (
    data_dir,
    envbool,
    envchoice,
    envcron,
    envfloat,
    envint,
    envlist,
    envurl,
)
from review_ui.logs import FORMATS, logging_config
from review_ui.places.jurisdiction import envjurisdiction

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = data_dir()


def _secret_key() -> str:
    key = os.environ.get("TUTORWATCH_SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


# --- Core -------------------------------------------------------------------------------------
SECRET_KEY = _secret_key()
DEBUG = envbool("TUTORWATCH_DEBUG", False)
ALLOWED_HOSTS = envlist("TUTORWATCH_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "review_ui",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Not LocaleMiddleware: the menu's choice, else LANGUAGE_CODE, never the browser's header.
    "review_ui.language.DefaultLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "review_ui.middleware.SessionIdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "review_ui.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "review_ui.urls"
WSGI_APPLICATION = "review_ui.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Store ------------------------------------------------------------------------------------
DEFAULT_DB_URL = f"sqlite:///{DATA_DIR / 'tutorwatch.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(
    envurl("TUTORWATCH_DB", ("sqlite", "postgresql", "postgres")) or DEFAULT_DB_URL
)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Crawls write while officers read: wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A server that stops answering must fail a crawl, not hang it: bound the connect time and
    # let TCP keepalives notice a silent peer.
    DATABASES["default"].setdefault("OPTIONS", {})
    for _option, _value in {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30,
                            "keepalives_interval": 10, "keepalives_count": 3}.items():
        DATABASES["default"]["OPTIONS"].setdefault(_option, _value)
# Keep each worker thread's connection between requests: opening a PostgreSQL connection costs
# more than a queue page's queries, and closing the last SQLite connection checkpoints the WAL.
DATABASES["default"]["CONN_MAX_AGE"] = envint("TUTORWATCH_DB_CONN_MAX_AGE", 300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------------------------
LOGIN_URL = "login"
# Each role's own start page (review_ui.auth.home_url): the queue, the admin, or "no role yet".
LOGIN_REDIRECT_URL = "review_ui:home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- Language and time ------------------------------------------------------------------------
# The language of every page unless a user picks another in the menu (review_ui.language):
# the browser's Accept-Language is not asked.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = envint("TUTORWATCH_SESSION_HOURS", 8) * 3600  # one working day at most
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# A session not used for this long ends (review_ui.middleware.SessionIdleTimeoutMiddleware).
TUTORWATCH_SESSION_IDLE_SECONDS = envint("TUTORWATCH_SESSION_IDLE_MINUTES", 60) * 60
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_TRUSTED_ORIGINS = envlist("TUTORWATCH_CSRF_TRUSTED_ORIGINS", [])
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Every page (review_ui.middleware.ContentSecurityPolicyMiddleware): no inline script or style,
# nothing from other origins, no plugins, no framing, forms post only here.
TUTORWATCH_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; object-src 'none'"
)
# Behind HTTPS (a TLS-terminating proxy such as nginx in front of gunicorn).
HTTPS = envbool("TUTORWATCH_HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
# Password guessing (review_ui.auth): this many checked failures for one user name within the
# window refuse further logins for it; failures for four times as many different names from one
# address refuse that address (one person behind an office's NAT cannot lock the office out).
TUTORWATCH_LOGIN_FAILURES = envint("TUTORWATCH_LOGIN_FAILURES", 5)
TUTORWATCH_LOGIN_WINDOW_SECONDS = envint("TUTORWATCH_LOGIN_WINDOW_MINUTES", 15) * 60

# --- REST API (review_ui/api, docs/api.md) -----------------------------------------------------
# Wrong tokens one address may send per hour (per worker process) before it gets 429.
TUTORWATCH_API_TOKEN_FAILURES = envint("TUTORWATCH_API_TOKEN_FAILURES", 20)
REST_FRAMEWORK = {
    # "Authorization: Token KEY" (keys from `tutorwatch token USER`), or the UI's login; a
    # session needs CSRF on every POST, a token does not.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "review_ui.api.access.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Each view names the role permission it needs (review_ui.roles).
    "DEFAULT_PERMISSION_CLASSES": ["review_ui.api.access.RolePermission"],
    # JSON in and out; staff also get the browsable page (review_ui.api.access.ApiView).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"api_token_failures": f"{TUTORWATCH_API_TOKEN_FAILURES}/hour"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "tutorwatch API",
    "DESCRIPTION": "The review queue: items, claims, decisions, ads (docs/api.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}

# --- tutorwatch -------------------------------------------------------------------------------
TUTORWATCH_MODEL = os.environ.get("TUTORWATCH_MODEL") or None
TUTORWATCH_CLAIM_MINUTES = envint("TUTORWATCH_CLAIM_MINUTES", 30)
# The queue's tab counts are kept this long by each worker (counting 100,000 items is slow).
TUTORWATCH_QUEUE_COUNTS_SECONDS = envint("TUTORWATCH_QUEUE_COUNTS_SECONDS", 10)
# The dashboard's figures are kept this long (they read every item and ad: seconds at a
# million ads); older ones are shown while one request builds new ones (review_ui.dashboard).
TUTORWATCH_DASHBOARD_SECONDS = envint("TUTORWATCH_DASHBOARD_SECONDS", 60)
# A contact carried by more ads than this is a hub (a platform's service number) and links no
# ads into an operator (review_ui.operators.linking).
TUTORWATCH_OPERATOR_HUB_CAP = envint("TUTORWATCH_OPERATOR_HUB_CAP", 500)
# The web server keeps one headless Chromium for evidence sheets, stopped after this many
# seconds without a sheet (0: start one for each sheet, as the command does).
TUTORWATCH_EVIDENCE_BROWSER_IDLE = envint("TUTORWATCH_EVIDENCE_BROWSER_IDLE", 600)
# Score at or above which a crawled ad is flagged; None: the model's own threshold. Crawls read
# it through crawler.settings; checked here too, so that a bad value stops every command at start.
TUTORWATCH_FLAG_THRESHOLD = envfloat("TUTORWATCH_FLAG_THRESHOLD", None, low=0, high=1)
# The exploration sample: this share of the unflagged new ads is queued for review, marked as
# a sample, so that decisions on them measure what the model misses (1 queues every ad).
TUTORWATCH_SAMPLE_RATE = envfloat("TUTORWATCH_SAMPLE_RATE", 0.03, low=0, high=1)
# A model version whose F1 on the test split or the held-out decisions is lower than the current
# model's by more than this is not promoted without --force (review_ui.model_registry).
TUTORWATCH_PROMOTE_TOLERANCE = envfloat("TUTORWATCH_PROMOTE_TOLERANCE", 0.01, low=0, high=1)

# Ads officers submit by hand (review_ui/intake): the largest picture accepted, in MB, and the
# longest pasted text, in characters.
TUTORWATCH_SUBMISSION_IMAGE_MB = envint("TUTORWATCH_SUBMISSION_IMAGE_MB", 10)
TUTORWATCH_SUBMISSION_TEXT_CHARS = envint("TUTORWATCH_SUBMISSION_TEXT_CHARS", 20000)

# --- Operations: schedule, re-checks, health checks, alerts (docs/deploy.md) -------------------
# Source YAML files the scheduler and `tutorwatch crawl NAME` use; empty: the bundled ones.
TUTORWATCH_SOURCES_DIR = os.environ.get("TUTORWATCH_SOURCES_DIR", "")
# Shared crawl frontier (scrapy-redis); empty: each crawl keeps its own in memory.
TUTORWATCH_REDIS_URL = envurl("TUTORWATCH_REDIS_URL", ("redis", "rediss", "unix"))
TUTORWATCH_REDIS_PREFIX = os.environ.get("TUTORWATCH_REDIS_PREFIX", "tutorwatch")
# Flagged (pending), confirmed and escalated ads are fetched again this often, to record a
# change or a takedown; the re-check crawls run on this cron schedule (a source's YAML
# `recheck` key overrides it).
TUTORWATCH_RECHECK_HOURS = envfloat("TUTORWATCH_RECHECK_HOURS", 24.0, low=0)
TUTORWATCH_RECHECK_SCHEDULE = envcron("TUTORWATCH_RECHECK_SCHEDULE", "30 3 * * *")
# `tutorwatch schedule` trains a candidate with the officers' decisions on this cron (empty:
# never), registers it, and alerts when it beats the current model; it promotes it only with
# TUTORWATCH_AUTO_PROMOTE, and then only through the tolerance check (review_ui.scheduling).
TUTORWATCH_TRAIN_SCHEDULE = envcron("TUTORWATCH_TRAIN_SCHEDULE", "")
TUTORWATCH_AUTO_PROMOTE = envbool("TUTORWATCH_AUTO_PROMOTE", False)
# Retention (review_ui.retention): the page, text and contacts of ads nobody flagged, sampled or
# decided are purged this many days after they were first stored (0: kept), daily on this cron.
TUTORWATCH_RETAIN_UNFLAGGED_DAYS = envint("TUTORWATCH_RETAIN_UNFLAGGED_DAYS", 90)
if TUTORWATCH_RETAIN_UNFLAGGED_DAYS < 0:
    raise ImproperlyConfigured("TUTORWATCH_RETAIN_UNFLAGGED_DAYS must be 0 (keep) or more days; "
                               f"got {TUTORWATCH_RETAIN_UNFLAGGED_DAYS}")
TUTORWATCH_PURGE_SCHEDULE = envcron("TUTORWATCH_PURGE_SCHEDULE", "15 4 * * *")
# A running crawl without a sign of life for this long counts as dead.
TUTORWATCH_RUN_STALE_MINUTES = envint("TUTORWATCH_RUN_STALE_MINUTES", 10)
# Health checks when a crawl closes (crawler/monitors.py).
TUTORWATCH_MONITOR_MAX_PARSE_FAILURES = envfloat(
    "TUTORWATCH_MONITOR_MAX_PARSE_FAILURES", 0.2, low=0, high=1)
TUTORWATCH_MONITOR_MIN_ITEMS_RATIO = envfloat(
    "TUTORWATCH_MONITOR_MIN_ITEMS_RATIO", 0.3, low=0, high=1)
TUTORWATCH_MONITOR_HISTORY = envint("TUTORWATCH_MONITOR_HISTORY", 5)
TUTORWATCH_MONITOR_MIN_HISTORY = envint("TUTORWATCH_MONITOR_MIN_HISTORY", 3)
# Alerts about failed and dead runs.
TUTORWATCH_ALERT_EMAILS = envlist("TUTORWATCH_ALERT_EMAILS", [])
TUTORWATCH_ALERT_WEBHOOK = envurl("TUTORWATCH_ALERT_WEBHOOK", ("http", "https"))
TUTORWATCH_ALERT_WEBHOOK_SECRET = os.environ.get("TUTORWATCH_ALERT_WEBHOOK_SECRET", "")
# Public address of the review UI, for links in alerts (https://tutorwatch.example.gov.cn).
TUTORWATCH_UI_URL = envurl("TUTORWATCH_UI_URL", ("http", "https"))
# Places (review_ui/places/): the bureau's county, city or province (a division code or name);
# ads elsewhere are marked. Officers' digests go out on TUTORWATCH_DIGEST_SCHEDULE (cron).
TUTORWATCH_JURISDICTION = envjurisdiction("TUTORWATCH_JURISDICTION")
TUTORWATCH_DIGEST_SCHEDULE = envcron("TUTORWATCH_DIGEST_SCHEDULE", "0 * * * *")

# --- Email (Django's mail settings) -------------------------------------------------------------
EMAIL_HOST = os.environ.get("TUTORWATCH_EMAIL_HOST", "localhost")
EMAIL_PORT = envint("TUTORWATCH_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("TUTORWATCH_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("TUTORWATCH_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = envbool("TUTORWATCH_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("TUTORWATCH_EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = envint("TUTORWATCH_EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = os.environ.get("TUTORWATCH_EMAIL_FROM", "tutorwatch@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# One handler on the root logger, one line per event, text or JSON (review_ui/logs.py).
TUTORWATCH_LOG_FORMAT = envchoice("TUTORWATCH_LOG_FORMAT", FORMATS, "text")
LOGGING = logging_config(TUTORWATCH_LOG_FORMAT)
