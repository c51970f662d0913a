"""docs/deploy.md lists every environment variable the code reads."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READERS = {"envbool", "envint", "envfloat", "envcron", "envurl", "envlist", "envnetworks",
           "envchoice", "getenv"}


def environment_variables_read() -> set[str]:
    names = set()
    for package in ("crawler", "review_ui", "classifier"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and node.args:
                    func = ast.unparse(node.func)
                    name = func.rsplit(".", 1)[-1]
                    from_environ = "environ" in func and name in ("get", "setdefault", "pop")
                    if (from_environ or name in READERS) and isinstance(node.args[0], ast.Constant):
                        names.add(node.args[0].value)
                elif (isinstance(node, ast.Subscript) and "environ" in ast.unparse(node.value)
                      and isinstance(node.slice, ast.Constant)):
                    names.add(node.slice.value)
    return names


def test_the_deployment_guide_lists_every_environment_variable_the_code_reads():
    names = environment_variables_read()
    assert "TUTORWATCH_DB" in names and "TUTORWATCH_CHROMIUM" in names  # the scan works
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert sorted(n for n in names if f"`{n}`" not in guide) == []
