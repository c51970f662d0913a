"""A hash of what decides how a source's stored ads were extracted, kept on each ad.

When a source's ``detail`` selectors (or its ``kind``, ``encoding`` or ``render``) change, say
to fix a ``posted_at`` selector that matched nothing, the ads stored with the old config would
otherwise wait ``TUTORWATCH_REFETCH_DAYS`` for the fix: the incremental crawl
(``crawler.incremental``) fetches a stored ad again at once when its hash differs from the
config's. The list selectors, schedule and limits are left out: they change which pages are
found, not what a stored ad holds. Ads stored before the hash was kept have none, and are
fetched again on the usual schedule.
"""

from __future__ import annotations

import hashlib
import json

from crawler.config import SourceConfig


def extraction_hash(config: SourceConfig) -> str:
    """SHA-256 (hex) of the parts of ``config`` that decide what a detail page yields."""
    parts = {
        "kind": config.kind,
        "detail": config.detail,
        "encoding": config.encoding,
        "render": config.render,
    }
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
