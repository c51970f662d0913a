"""A real crawl (``tutorwatch crawl`` in its own process, the sandbox site on 127.0.0.1)
classifies with the version promoted in the store: every stored verdict records it."""

from __future__ import annotations

import json

import pytest

from classifier import DEFAULT_MODEL_PATH
from tests.review_ui.test_model_registry import model_file

pytestmark = [pytest.mark.slow, pytest.mark.pg]


def test_a_crawl_uses_the_promoted_models_version(tutorwatch, source_file, tmp_path):
    tutorwatch("migrate", "-v", "0")
    path = model_file(tmp_path / "models", "crawl-promoted", test_f1=0.99)
    tutorwatch("model", "register", str(path))
    tutorwatch("model", "promote", "crawl-promoted")
    tutorwatch("crawl", "--source", str(source_file("forum")), timeout=300)
    rows = tutorwatch("shell", "-c",
                      "from review_ui.models import Verdict; import json; print(json.dumps("
                      "sorted(set(Verdict.objects.values_list('model_version', flat=True)))))")
    assert json.loads(rows.stdout.decode().strip().splitlines()[-1]) == ["crawl-promoted"]
    listed = tutorwatch("model", "list").stdout.decode()
    assert "* crawl-promoted" in listed
    shipped = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())["version"]
    assert shipped != "crawl-promoted"
