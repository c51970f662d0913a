"""The doors between the packages (ARCHITECTURE.md, STYLE.md "Narrow doors between rooms").

- ``crawler/`` reaches the store through ``review_ui.store`` alone: no module under it imports
  Django, or anything of ``review_ui`` but ``review_ui.store`` and the settings helpers of
  ``review_ui.env``.
- ``review_ui/store/`` is the door, not a part of the crawl: it imports none of the crawler's
  Scrapy glue (pipelines, extensions, middlewares, spiders), nor Scrapy or Twisted.
- ``classifier/`` imports neither Scrapy nor Django.

Imports are read from the source with ``ast``, those inside functions included.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STORE = ROOT / "review_ui" / "store"

CRAWLER_MAY_IMPORT = ("review_ui.store", "review_ui.env")
STORE_MUST_NOT_IMPORT = ("crawler.pipelines", "crawler.extensions", "crawler.middlewares",
                         "crawler.spiders", "crawler.incremental", "crawler.distributed",
                         "scrapy", "twisted")


def imported_modules(source: str, module: str) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every module ``source`` imports; ``module`` is its own dotted
    name, for relative imports. ``from a import b`` gives ``a.b`` (b may be a module)."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(filter(None, [*parts, base]))
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


def crawler_breaks_the_contract(name: str) -> bool:
    if within(name, CRAWLER_MAY_IMPORT):
        # review_ui.store itself, or a name it exports; never the store's inner modules.
        inner = name.removeprefix("review_ui.store").lstrip(".").split(".")[0]
        return bool(inner) and (STORE / inner).with_suffix(".py").exists()
    return within(name, ("django", "review_ui"))


def modules(package: str) -> Iterator[tuple[Path, str]]:
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        yield path, dotted.removesuffix(".__init__")


def violations(package: str, broken: object) -> list[str]:
    found = []
    for path, module in modules(package):
        for line, name in imported_modules(path.read_text(encoding="utf-8"), module):
            if broken(name):
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    return found


def test_the_crawler_reaches_the_store_through_review_ui_store_alone():
    assert violations("crawler", crawler_breaks_the_contract) == []


def test_the_store_imports_none_of_the_crawls_scrapy_glue():
    assert violations("review_ui.store", lambda name: within(name, STORE_MUST_NOT_IMPORT)) == []


def test_the_classifier_imports_neither_scrapy_nor_django():
    frameworks = ("scrapy", "twisted", "django")
    assert violations("classifier", lambda name: within(name, frameworks)) == []


@pytest.mark.parametrize("source, broken", [
    ("import django", True),
    ("from django.db import connection", True),
    ("def f():\n    from django.db import DatabaseError", True),
    ("from review_ui import queue", True),
    ("from review_ui.models import Ad", True),
    ("from review_ui.store.ingest import ingest", True),
    ("from review_ui.store import ingest", True),
    ("from review_ui.store import Store", False),
    ("from review_ui import store", False),
    ("from review_ui.env import envbool", False),
    ("import scrapy", False),
])
def test_the_contract_check_tells_an_import_through_the_door_from_one_around_it(source, broken):
    names = [name for _, name in imported_modules(source, "crawler.example")]
    assert any(crawler_breaks_the_contract(name) for name in names) is broken


def test_relative_imports_are_read_as_the_modules_they_name():
    names = [name for _, name in imported_modules("from ..models import Ad\nfrom . import x",
                                                  "review_ui.store.ingest")]
    assert names == ["review_ui.models.Ad", "review_ui.store.x"]


def test_importing_the_crawl_loads_no_orm():
    """The store's door opens Django when a crawl first uses it, not when the crawler is
    imported: ``tutorwatch try`` and Scrapy's own tools never load the ORM."""
    code = (
        "import sys\n"
        "import crawler.settings, crawler.incremental, crawler.trial, crawler.distributed\n"
        "import crawler.pipelines, crawler.extensions.runs, crawler.pipelines.store\n"
        "orm = ('django.db', 'review_ui.models')\n"
        "print(sorted(m for m in sys.modules if m.startswith(orm)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_starting_django_imports_no_classifier():
    """Every tutorwatch process starts Django, the crawl process among them, which scores no
    ad (its pipeline worker loads the model): starting it must not import scikit-learn (about
    1.5 CPU s) through a module the admin or the queue imports."""
    code = (
        "import os, sys, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'review_ui.settings')\n"
        "django.setup()\n"
        "heavy = {'classifier', 'sklearn', 'skops'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_checking_a_source_config_imports_no_classifier_model():
    """A crawl process checks its sources' configs, whose ``source_type`` names a register of
    the labeled corpus; the register list must come without the model (scikit-learn, skops),
    which only the pipeline worker loads."""
    code = (
        "import sys\n"
        "from crawler.config import load_source\n"
        "config = load_source('crawler/sources/sandbox_forum.yaml')\n"
        "heavy = {'sklearn', 'skops', 'scipy'}\n"
        "print(config.name, sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "sandbox_forum []"  # its source_type: forum, checked
