"""The place of an ad as it is stored: parsed from the ad's area, address lines and title
(``review_ui.places.parser``), with the source's default region (``region:`` in its YAML)
filling what the ad leaves out."""

from __future__ import annotations

from typing import Any

from review_ui.places.parser import Place, parse_place, parse_region


def place_fields(title: str, text: str, region: str, default_region: str) -> dict[str, str]:
    """The :class:`~review_ui.models.Ad` columns of the place an ad names."""
    default = parse_region(default_region) if default_region else Place()
    place = parse_place(title, text, region, default)
    return {**place.as_dict(), "place_note": place.note[:200]}


def default_region(config: dict[str, Any] | None) -> str:
    value = (config or {}).get("region")
    return value.strip() if isinstance(value, str) else ""
