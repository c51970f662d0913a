"""The settings file ``/etc/tutorwatch/env``, written so that systemd's ``EnvironmentFile=`` and a
POSIX shell (``set -a; . /etc/tutorwatch/env``) read the same values (``tutorwatch envfile``).

Every value is put in single quotes: both read everything up to the next single quote as it
stands, so ``$``, ``&``, ``(``, ``#``, spaces, backslashes and double quotes survive (Django's
generated secret keys hold ``$&(*#!``). A value with a single quote or a line break has no
spelling both agree on, and is refused.
"""

from __future__ import annotations

import re

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
UNSAFE = ("'", "\n", "\r", "\0")


class EnvFileError(ValueError):
    pass


def new_secret_key() -> str:
    """Django's own generator: 50 characters of letters, digits and ``!@#$%^&*(-_=+)``."""
    from django.core.management.utils import get_random_secret_key

    return get_random_secret_key()


def quoted(name: str, value: str) -> str:
    """``NAME='value'``, read alike by systemd and the shell."""
    if not NAME.match(name):
        raise EnvFileError(f"{name!r} is not a variable name (letters, digits and _)")
    bad = [c for c in UNSAFE if c in value]
    if bad:
        raise EnvFileError(f"{name}: a value with {', '.join(repr(c) for c in bad)} cannot be "
                           "written so that systemd and the shell read it alike")
    return f"{name}='{value}'"


def render(values: dict[str, str]) -> str:
    lines = ["# tutorwatch settings (docs/deploy.md, \"Every setting\"). Read by systemd's",
             "# EnvironmentFile= and by `set -a; . FILE` alike: keep each value in single quotes",
             "# and comments on lines of their own. It holds secrets: mode 0640, root:tutorwatch."]
    lines += [quoted(name, value) for name, value in values.items()]
    return "\n".join(lines) + "\n"
