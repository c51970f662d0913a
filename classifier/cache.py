"""Tables the classifier derives from its dictionaries at start, kept between runs.

jieba's word → log-probability table (``classifier.tokenize``) and OpenCC's traditional →
simplified character table (``classifier.normalize``) take about 1.2 and 0.2 s of CPU to build
at every start and are the same for the same inputs. :func:`cached` keeps each in a file named
by the SHA-256 of what it is built from (the dictionaries' bytes, the library versions), in
``$TUTORWATCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/tutorwatch``, else ``~/.cache/tutorwatch``
(a directory of the user's own, not a shared temporary one), written atomically. A missing,
unreadable or foreign file is built again; a directory that cannot be written is not an
error, the table is then built at every start as before.

The tables hold only strings, numbers and None (``marshal``, which never runs code, keeps
them: reading 500,000 entries takes a third of what jieba's own cache does).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

FORMAT = b"tutorwatch-cache-1"


def cache_dir() -> Path:
    configured = os.environ.get("TUTORWATCH_CACHE_DIR", "").strip()
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "tutorwatch"


def key_of(parts: Iterable[bytes | str]) -> str:
    digest = hashlib.sha256(FORMAT)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def cached(name: str, parts: Iterable[bytes | str], build: Callable[[], Any]) -> Any:
    """``build()``'s value, read from the cache file of ``name`` and ``parts`` when there is
    one, else built and written there."""
    key = key_of([name, *parts])
    try:
        path = cache_dir() / f"{name}-{key[:32]}.marshal"
    except RuntimeError:  # no home directory
        return build()
    try:
        # From bytes: marshal.load on a file reads each of the 500,000 strings on its own.
        stored_key, value = marshal.loads(path.read_bytes())
        if stored_key == key:
            return value
    except (OSError, EOFError, ValueError, TypeError):
        pass
    value = build()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{name}-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(marshal.dumps((key, value)))
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except (OSError, ValueError):
        pass
    return value
