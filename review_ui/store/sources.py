"""The store's row of each crawled source (:class:`~review_ui.models.Source`), made when a source
is first crawled or stored, and kept up to date with its config."""

from __future__ import annotations

from typing import Any

from review_ui.models import Source


def source_row(name: str, config: dict[str, Any] | None = None, path: str = "") -> Source:
    source, created = Source.objects.get_or_create(
        name=name, defaults={"kind": (config or {}).get("kind", ""), "config": config or {}}
    )
    stale = source.config != config or source.config_path != path
    if config is not None and not created and stale:
        source.config, source.kind, source.config_path = config, config.get("kind", ""), path or ""
        source.save(update_fields=["config", "kind", "config_path", "updated_at"])
    elif created and path:
        source.config_path = path
        source.save(update_fields=["config_path"])
    return source
