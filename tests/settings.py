"""Settings for the test suite: tutorwatch's own, plus PostgreSQL when TUTORWATCH_TEST_PG is set.

TUTORWATCH_TEST_PG names a PostgreSQL database, as a URL (postgresql://postgres@127.0.0.1/tw)
or a bare name on 127.0.0.1:5432 as user postgres. Django's test runner creates test_<name>.
"""

import os

import dj_database_url

from review_ui.settings import *  # noqa: F403
from review_ui.settings import DATABASES


def pg_url(value: str) -> str:
    return value if "://" in value else f"postgresql://postgres@127.0.0.1:5432/{value}"


if os.environ.get("TUTORWATCH_TEST_PG"):
    DATABASES["default"] = dj_database_url.parse(pg_url(os.environ["TUTORWATCH_TEST_PG"]))
    # Django's flush between transactional tests, past the audit log's trigger.
    DATABASES["default"]["ENGINE"] = "tests.pgbackend"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Off unless a test turns it on (tests/conftest.py says why).
TUTORWATCH_SAMPLE_RATE = float(os.environ.get("TUTORWATCH_SAMPLE_RATE", "0"))
# The dashboard's figures are built for every request: a test's page must show its own store,
# not figures another test left in the cache (tests/review_ui/test_dashboard.py turns it on).
TUTORWATCH_DASHBOARD_SECONDS = 0
