"""``tutorwatch envfile``: a secret key with ``$``, ``&`` and ``(`` survives the settings file,
read by a shell the way docs/deploy.md reads it, and by systemd's EnvironmentFile= where a
systemd manager is reachable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from review_ui.envfile import EnvFileError, new_secret_key, quoted

HARD = "k$HOME&(x)`id`\\n \"q\" #not-a-comment $(echo no) ;&&|<>*"
PRINT = [sys.executable, "-c",
         "import os; print(os.environ['TUTORWATCH_SECRET_KEY'], end='|');"
         "print(os.environ['TUTORWATCH_RECHECK_SCHEDULE'], end='')"]


def _write(tmp_path: Path, key: str) -> Path:
    path = tmp_path / "env"
    call_command("envfile", "-o", str(path), "--set", f"TUTORWATCH_SECRET_KEY={key}",
                 "--set", "TUTORWATCH_RECHECK_SCHEDULE=30 3 * * *", stderr=StringIO())
    return path


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_a_key_with_shell_characters_survives_the_shell_that_sources_the_file(tmp_path, shell):
    if shutil.which(shell) is None:
        pytest.skip(f"no {shell}")
    path = _write(tmp_path, HARD)
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    # As docs/deploy.md's tw() reads it.
    done = subprocess.run([shell, "-c", 'f=$1; shift; set -a; . "$f"; exec "$@"', "tw",
                           str(path), *PRINT], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": "/nonexistent"}, check=True)
    assert done.stdout == f"{HARD}|30 3 * * *"
    assert done.stderr == ""


def test_a_generated_key_survives_systemds_environment_file(tmp_path):
    key = new_secret_key()
    path = _write(tmp_path, key + "$&(")
    probe = subprocess.run(["systemd-run", "--user", "--wait", "--pipe", "--quiet",
                            "-p", f"EnvironmentFile={path}", *PRINT], capture_output=True,
                           text=True) if shutil.which("systemd-run") else None
    if probe is None or "Failed to connect" in probe.stderr:
        pytest.skip("no systemd manager to run a unit with EnvironmentFile= (a container)")
    assert probe.stdout == f"{key}$&(|30 3 * * *"


def test_values_no_reader_agrees_on_are_refused_and_files_are_not_overwritten(tmp_path):
    assert quoted("A", "x$y") == "A='x$y'"
    for value in ("it's", "two\nlines"):
        with pytest.raises(EnvFileError, match="cannot be written"):
            quoted("TUTORWATCH_SECRET_KEY", value)
    with pytest.raises(CommandError, match="cannot be written"):
        call_command("envfile", "-o", str(tmp_path / "bad"), "--set", "X=it's")
    assert not (tmp_path / "bad").exists()
    path = _write(tmp_path, "first")
    with pytest.raises(CommandError, match="exists: give --force"):
        _write(tmp_path, "second")
    assert "first" in path.read_text()
    out = StringIO()
    call_command("envfile", "-o", "-", stdout=out)
    line = next(x for x in out.getvalue().splitlines() if x.startswith("TUTORWATCH_SECRET_KEY="))
    assert len(line) == len("TUTORWATCH_SECRET_KEY=''") + 50  # a new key, each time
