"""Strict readers of environment variables, used only by settings modules.

A malformed value is an error at start, naming the variable, rather than a silent default.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import overload

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}"
    )


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}") from None


@overload
def envfloat(name: str, default: float, low: float | None = ...,
             high: float | None = ...) -> float: ...


@overload
def envfloat(name: str, default: None, low: float | None = ...,
             high: float | None = ...) -> float | None: ...


def envfloat(name: str, default: float | None, low: float | None = None,
             high: float | None = None) -> float | None:
    """A number (between ``low`` and ``high`` when given); ``default`` when unset or empty."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number; got {raw!r}") from None
    if math.isnan(value):
        raise ImproperlyConfigured(f"{name} must be a number; got {raw!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            bounds = f"between {low:g} and {high:g}"
        else:
            bounds = f"at least {low:g}" if low is not None else f"at most {high:g}"
        raise ImproperlyConfigured(f"{name} must be {bounds}; got {raw!r}")
    return value


def envchoice(name: str, choices: tuple[str, ...], default: str,
              case_sensitive: bool = False) -> str:
    """One of ``choices``; ``default`` when unset or empty."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip() if case_sensitive else raw.strip().lower()
    allowed = {c if case_sensitive else c.lower(): c for c in choices}
    if value not in allowed:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {raw!r}")
    return allowed[value]


def envcron(name: str, default: str) -> str:
    """A five-field crontab expression; an invalid one is an error naming the variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(raw.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{name} must be a five-field cron expression (minute hour day month weekday, "
            f"such as '30 3 * * *'); got {raw!r}: {exc}"
        ) from None
    return raw.strip()


def envurl(name: str, schemes: tuple[str, ...]) -> str:
    """A URL with one of ``schemes``, or "" when unset."""
    raw = (os.environ.get(name) or "").strip()
    if raw and raw.split("://", 1)[0].lower() not in schemes:
        raise ImproperlyConfigured(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}; "
            f"got {mask_url(raw)!r}"
        )
    return raw


def mask_url(url: str) -> str:
    """``url`` with its password (and a query's token or key, as webhooks carry) replaced by
    ``***``, for messages."""
    masked = re.sub(r"^([a-z][a-z0-9+.-]*://[^/@:]*:)[^/@]*@", r"\1***@", url, flags=re.I)
    return re.sub(r"(?i)([?&](?:access_token|token|key|secret|sign|password)=)[^&]*",
                  r"\1***", masked)


def envlist(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def envnetworks(name: str) -> list[str]:
    """Comma-separated networks in CIDR notation (a bare address is one host), or [] when unset.
    A network with host bits set (``10.1.2.3/8``) is refused: it could mean either."""
    import ipaddress

    networks = []
    for part in envlist(name, []):
        try:
            networks.append(str(ipaddress.ip_network(part)))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name} must be comma-separated networks such as 10.0.0.0/8; "
                f"{part!r} is not one ({exc})"
            ) from None
    return networks


def data_dir() -> Path:
    """Where tutorwatch keeps its SQLite file, secret key and demo state.

    ``TUTORWATCH_DATA_DIR`` if set, else ``$XDG_DATA_HOME/tutorwatch``
    (``~/.local/share/tutorwatch``).
    """
    explicit = os.environ.get("TUTORWATCH_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "tutorwatch"
