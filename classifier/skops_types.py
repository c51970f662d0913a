"""``skops.io`` imported without recomputing its default trusted-type lists at every start.

When imported, ``skops.io._trusted_types`` builds the lists of types skops trusts by default:
every scikit-learn estimator (``sklearn.utils.all_estimators()``, which imports every public
scikit-learn module) and the module of every numpy and scipy ufunc (for each of them a walk over
all the modules loaded so far). That took 1.6 s of the 5 s a ``tutorwatch classify`` of ten ads
spent starting (docs/benchmarks.md, issue 22), and it is the same lists every time for the same
versions of skops, scikit-learn, numpy and scipy.

``data/skops_trusted_types.json`` holds those lists as skops computed them, with the versions
they were computed for. When the installed versions are those, :data:`sio` is ``skops.io``
imported with ``skops.io._trusted_types`` made from the file (the same names, so skops trusts
exactly what it would have trusted); otherwise skops builds its lists itself, as before. Either
way skops does the loading and the audit of every type in a model file against
``classifier.model.TRUSTED_TYPES`` and its defaults. ``tests/classifier/test_skops_types.py``
checks the file against skops' own lists when the versions match.

Write the file again after upgrading one of those packages (a fresh process, skops imported
first as ``tutorwatch`` does):

    python -m classifier.skops_types
"""

from __future__ import annotations

import builtins
import json
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path
from typing import Any

TYPES_FILE = Path(__file__).resolve().parent / "data" / "skops_trusted_types.json"
PACKAGES = ("skops", "scikit-learn", "numpy", "scipy")
MODULE = "skops.io._trusted_types"


def installed_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in PACKAGES}


def module_lists(module: types.ModuleType) -> dict[str, dict[str, list[str]]]:
    """The upper-case list attributes of skops' ``_trusted_types`` module: lists of type names
    as they are (``{"names": [...]}``), lists of built-in types by their names
    (``{"builtins": [...]}``). Anything else is an error: the module changed."""
    out: dict[str, dict[str, list[str]]] = {}
    for name in sorted(vars(module)):
        if not name.isupper():
            continue
        value = getattr(module, name)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            out[name] = {"names": list(value)}
        elif isinstance(value, list) and all(
            isinstance(item, type) and getattr(builtins, item.__name__, None) is item
            for item in value
        ):
            out[name] = {"builtins": [item.__name__ for item in value]}
        else:
            raise ValueError(f"{MODULE}.{name}: not a list of type names or built-in types")
    return out


def _module_from_file() -> types.ModuleType | None:
    """skops' ``_trusted_types`` module made from :data:`TYPES_FILE`, or None when the file is
    missing, unreadable or was written for other versions."""
    try:
        saved = json.loads(TYPES_FILE.read_text(encoding="utf-8"))
        if saved.get("versions") != installed_versions():
            return None
        module = types.ModuleType(MODULE, f"skops' default trusted types, read from {TYPES_FILE}")
        for name, value in saved["lists"].items():
            if "names" in value:
                setattr(module, name, [str(item) for item in value["names"]])
            else:
                setattr(module, name, [getattr(builtins, item) for item in value["builtins"]])
    except (OSError, ValueError, KeyError, AttributeError, TypeError,
            metadata.PackageNotFoundError):
        return None
    module.__file__ = str(TYPES_FILE)
    return module


def _import_skops_io() -> Any:
    if "skops.io" not in sys.modules and MODULE not in sys.modules:
        module = _module_from_file()
        if module is not None:
            sys.modules[MODULE] = module
    import skops.io

    return skops.io


sio = _import_skops_io()
from_file = getattr(sys.modules[MODULE], "__file__", None) == str(TYPES_FILE)


# A fresh interpreter that imports skops.io first (as ``tutorwatch`` does), so that skops builds
# its lists itself, and prints them.
_COMPUTE = """
import json, sys
sys.path.insert(0, sys.argv[1])  # this checkout's classifier, whatever is installed
import skops.io
from classifier.skops_types import MODULE, installed_versions, module_lists
print(json.dumps({"versions": installed_versions(), "lists": module_lists(sys.modules[MODULE])}))
"""


def computed_by_skops() -> dict[str, Any]:
    """The versions and skops' own lists, as skops builds them in a fresh process."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", _COMPUTE, str(root)], capture_output=True,
                          text=True, check=True, cwd=root)
    return json.loads(done.stdout)


def main() -> None:
    data = computed_by_skops()
    TYPES_FILE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {TYPES_FILE} for {data['versions']}")


if __name__ == "__main__":
    main()
