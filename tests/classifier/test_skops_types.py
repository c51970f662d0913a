"""skops' default trusted types read from ``classifier/data/skops_trusted_types.json`` are the
ones skops builds itself for the installed versions, and are used only for those versions."""

from __future__ import annotations

import builtins
import json
import sys

from classifier import skops_types
from classifier.skops_types import MODULE, TYPES_FILE, installed_versions


def test_the_file_holds_the_lists_skops_builds_for_the_installed_versions():
    saved = json.loads(TYPES_FILE.read_text(encoding="utf-8"))
    computed = skops_types.computed_by_skops()
    if saved["versions"] != computed["versions"]:
        # Other versions installed: skops builds its own lists, the file is not read.
        assert skops_types._module_from_file() is None
        assert not skops_types.from_file
        return
    assert saved == computed, ("skops' trusted types changed: write the file again with "
                               "`python -m classifier.skops_types`")
    assert skops_types.from_file
    module = sys.modules[MODULE]
    for name, value in saved["lists"].items():
        expected = (value["names"] if "names" in value
                    else [getattr(builtins, type_name) for type_name in value["builtins"]])
        assert getattr(module, name) == expected


def test_a_file_for_other_versions_is_not_read(tmp_path, monkeypatch):
    saved = json.loads(TYPES_FILE.read_text(encoding="utf-8"))
    saved["versions"] = {**installed_versions(), "skops": "0.0.1"}
    other = tmp_path / "types.json"
    other.write_text(json.dumps(saved), encoding="utf-8")
    monkeypatch.setattr(skops_types, "TYPES_FILE", other)
    assert skops_types._module_from_file() is None
    other.write_text("{not json", encoding="utf-8")
    assert skops_types._module_from_file() is None
