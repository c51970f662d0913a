"""The offline install of docs/deploy.md: the wheel built on a connected machine, copied to a
wheelhouse, installed with ``pip install --no-index --find-links`` and nothing else. Here the
dependencies come from the system's site-packages (``--system-site-packages``) instead of a
``pip download`` of them, which would need the network; tutorwatch itself comes from the
wheelhouse alone (pip's configuration and its extra indexes are switched off)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPT = os.environ.get("TUTORWATCH_INSTALL_TRANSCRIPT")  # where to keep the commands' output


def _run(args: list[str], env: dict[str, str], log: list[str]) -> str:
    # Away from the checkout: python -c puts the working directory first on sys.path.
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600,
                          cwd=env["TUTORWATCH_DATA_DIR"])
    log.append(f"$ {' '.join(args)}\n{done.stdout}{done.stderr}(exit {done.returncode})\n")
    assert done.returncode == 0, log[-1]
    return done.stdout


@pytest.mark.slow
@pytest.mark.once
def test_it_installs_from_a_wheelhouse_with_no_index(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"))
    connected = {k: v for k, v in os.environ.items()
                 if not k.startswith("PYTHON") and k != "DJANGO_SETTINGS_MODULE"}
    connected["TUTORWATCH_DATA_DIR"] = str(tmp_path / "data")
    (tmp_path / "data").mkdir()
    # Offline: none of pip's configuration (its extra indexes and find-links) is read.
    env = {k: v for k, v in connected.items() if not k.startswith("PIP_")}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    wheelhouse, venv, log = tmp_path / "wheelhouse", tmp_path / "venv", []
    # On the connected machine (the build backend comes from the index; the dependencies would
    # be fetched with `pip download -d WHEELHOUSE`).
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(wheelhouse),
          str(source)], connected, log)
    wheels = [p.name for p in wheelhouse.iterdir()]
    assert len(wheels) == 1 and wheels[0].startswith("tutorwatch-")
    # On the county's machine, without a network.
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], env, log)
    _run([str(venv / "bin" / "pip"), "install", "--no-index", "--find-links", str(wheelhouse),
          "--no-deps", "--force-reinstall", "tutorwatch"], env, log)
    where = _run([str(venv / "bin" / "python"), "-c",
                  "import importlib.metadata as m, review_ui, classifier.model as c, pathlib; "
                  "print(review_ui.__file__); print(m.version('tutorwatch')); "
                  "d = pathlib.Path(review_ui.__file__).parent; "
                  "print(sorted(p.name for p in d.glob('locale/*/LC_MESSAGES/*.mo'))); "
                  "print(sorted(p.name for p in "
                  "(pathlib.Path(c.__file__).parent / 'models').glob('*.skops')))"],
                 env, log).splitlines()
    assert where[0].startswith(str(venv)), where  # the wheel's copy, not the source checkout
    assert where[2] == "['django.mo']" and where[3] != "[]"  # translations and the model
    envfile = _run([str(venv / "bin" / "tutorwatch"), "envfile", "-o", "-"], env, log)
    assert "TUTORWATCH_SECRET_KEY='" in envfile
    if TRANSCRIPT:
        Path(TRANSCRIPT).write_text("".join(log), encoding="utf-8")
