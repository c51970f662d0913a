"""Where an ad says it is: province, city, district (县/区/县级市) and township (乡/镇/街道).

:func:`parse_place` reads, in order, the area a page shows (``region``, such as ``长沙-雨花区``),
the labelled address lines of the text (``地址：``, ``地区：``, ``服务范围：``, ``位于`` ...)
and the title, with jionlp's ``parse_location`` and the division data jionlp ships (2,800
counties and their townships; no run-time download). A source's default region (``region:``
in its YAML) fills the levels the ad leaves out, and decides between counties of one name.

Defined outcomes for hard input:

- an address line that names two districts of one city ("天心区、雨花区均可上门") gives no
  district (the city is kept) and a ``note`` naming both, rather than a guess;
- a township is taken only inside the district found, by its full name (``暮云街道``) or, when
  at least two characters are left, by its name without the suffix (``暮云``) in an address line;
- text without any place gives an empty :class:`Place`.

Names are written as the divisions write them: 湖南省, 长沙市, 天心区, 暮云街道.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Labels bureaus' ads and listing sites put before an address or an area.
_LABELLED = re.compile(
    r"(?:地址|地区|区域|所在地|所在区域|位置|地点|上课地点|授课地点|授课区域|服务范围|服务区域|校区|位于|坐落于)"
    r"\s*[：:]?\s*([^｜|\n\r；;。]{2,60})"
)
_WORD_SPLIT = re.compile(r"[\s,，、/;；·\-]+")
_LEVELS = ("province", "city", "district", "township")


@dataclass(frozen=True)
class Place:
    province: str = ""
    city: str = ""
    district: str = ""
    township: str = ""
    district_code: str = ""  # the county's 6-digit division code, when a district is known
    note: str = ""  # why a level was left empty (two districts named), in Chinese

    def as_dict(self) -> dict[str, str]:
        return {level: getattr(self, level) for level in _LEVELS}

    @property
    def empty(self) -> bool:
        return not any(self.as_dict().values())


@dataclass(frozen=True)
class _County:
    province: str
    city: str
    name: str
    alias: str
    code: str
    townships: tuple[str, ...]


@lru_cache(maxsize=1)
def _jionlp() -> Any:
    """jionlp, imported on first use (it takes a second or two) with the banner it prints on
    import kept off stdout, where ``tutorwatch export -o -`` writes its rows."""
    with contextlib.redirect_stdout(io.StringIO()):
        import jionlp
    return jionlp


@lru_cache(maxsize=1)
def _divisions() -> dict[str, Any]:
    """jionlp's division tree: province -> city -> county -> township -> village."""
    return _jionlp().china_location_loader(detail=True)


@lru_cache(maxsize=1)
def counties() -> dict[str, _County]:
    """Every county by its division code."""
    found: dict[str, _County] = {}
    for province, cities in _divisions().items():
        for city, county_map in _children(cities):
            for county, data in _children(county_map):
                code = data.get("_admin_code") or ""
                found[code] = _County(
                    province,
                    city,
                    county,
                    data.get("_alias") or "",
                    code,
                    tuple(name for name, _ in _children(data)),
                )
    return found


@lru_cache(maxsize=1)
def _counties_by_name() -> dict[str, list[_County]]:
    index: dict[str, list[_County]] = {}
    for county in counties().values():
        index.setdefault(county.name, []).append(county)
    return index


@lru_cache(maxsize=1)
def _counties_by_city() -> dict[str, list[_County]]:
    index: dict[str, list[_County]] = {}
    for county in counties().values():
        index.setdefault(county.city, []).append(county)
    return index


def _children(node: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v if isinstance(v, dict) else {}) for k, v in node.items() if not k.startswith("_")]


class _NarrowedParser:
    """jionlp's ``parse_location``, asked only about the divisions a text names.

    ``LocationParser.get_candidates`` tries each of its ~4,000 divisions (current and former,
    in full and by short name) against the text in turn, about 50 ms a text; a division none
    of whose names is in the text is never a candidate. So the names present are found first
    (a set lookup per position and length) and the parser's list is cut, for that call, to the
    divisions holding one of them, in their own order: the same candidates, so the same result
    (``tests/review_ui/test_places.py`` compares the two), for a fraction of the time
    (docs/benchmarks.md). jionlp's own comment on ``_mapping`` suggests such an index.
    """

    def __init__(self) -> None:
        _jionlp()  # first: it keeps jionlp's import banner off stdout
        from jionlp.gadget.location_parser import LocationParser

        self._parser = LocationParser()
        self._parser("长沙市")  # loads the divisions
        self._divisions = list(self._parser.administrative_map_list)
        self._holding: dict[str, list[int]] = {}
        for position, division in enumerate(self._divisions):
            for name in {n for level in division[1:4] for n in level if n}:
                self._holding.setdefault(name, []).append(position)
        self._lengths = sorted({len(name) for name in self._holding})
        self._lock = threading.Lock()  # the list is swapped per call

    def names_in(self, text: str) -> set[str]:
        return {
            text[start : start + length]
            for start in range(len(text))
            for length in self._lengths
            if text[start : start + length] in self._holding
        }

    def __call__(self, text: str) -> dict[str, Any]:
        positions = sorted({p for name in self.names_in(text) for p in self._holding[name]})
        with self._lock:
            self._parser.administrative_map_list = [self._divisions[p] for p in positions]
            try:
                return self._parser(text, change2new=True)
            finally:
                self._parser.administrative_map_list = self._divisions


@lru_cache(maxsize=1)
def _location_parser() -> _NarrowedParser:
    return _NarrowedParser()


@lru_cache(maxsize=4096)
def _parse(snippet: str) -> tuple[str, str, str]:
    """(province, city, county) of one address string, cached: a site's area fields and
    addresses repeat from ad to ad."""
    result = _location_parser()(snippet)
    return result.get("province") or "", result.get("city") or "", result.get("county") or ""


def _county(province: str, city: str, name: str) -> _County | None:
    for county in _counties_by_name().get(name, []):
        if county.province == province and county.city == city:
            return county
    return None


def _districts_named(snippet: str, city: str, province: str = "", short: bool = True) -> list[str]:
    """The districts of ``city`` that ``snippet`` names, in order: in full (``天心区``) and, with
    ``short``, by their short names (``武昌 洪山``, ``园区吴江常熟``) once the province's and
    the city's own names are taken out (长沙县's ``长沙`` is not read from ``长沙市``); next to
    a full name, a short name counts only as a word of its own."""
    in_city = _counties_by_city().get(city, [])
    named = {c.name: snippet.find(c.name) for c in in_city if c.name in snippet}
    if named and short:
        # A district written in full: other short names count only as words of their own
        # ("天心区芙蓉南路" is in 天心区, not also in 芙蓉区).
        words = set(_WORD_SPLIT.split(snippet))
        for county in in_city:
            if county.name not in named and len(county.alias) >= 2 and county.alias in words:
                named[county.name] = snippet.find(county.alias)
    elif short:
        rest = snippet
        for name in sorted(
            {province, city, _short(province), _short(city)} - {""}, key=len, reverse=True
        ):
            rest = rest.replace(name, " " * len(name))
        for county in in_city:
            if county.name not in named and len(county.alias) >= 2 and county.alias in rest:
                named[county.name] = rest.find(county.alias)
    return sorted(named, key=named.__getitem__)


def _short(name: str) -> str:
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区", "省", "市"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _township(county: _County, text: str) -> str:
    """The first township of ``county`` the text names in full (``暮云街道``, ``乐从镇``). Short
    names are not read: ``沧浪`` in a service area is the old 沧浪区, not 沧浪街道."""
    full = [(text.find(name), name) for name in county.townships if name in text]
    return min(full)[1] if full else ""


def snippets(title: str, text: str, region: str = "") -> list[str]:
    """The parts of an ad that say where it is, most telling first."""
    found = [region.strip()] if region and region.strip() else []
    found += [m.group(1).strip() for m in _LABELLED.finditer(text or "")]
    if title and title.strip():
        found.append(title.strip())
    return found


_DIVISION_SUFFIXES = ("省", "市", "区", "县", "旗", "州", "盟", "自治区")


def parse_region(region: str) -> Place:
    """A source's default region (``湖南省长沙市``, ``长沙市天心区``, a 6-digit division code)."""
    region = (region or "").strip()
    if re.fullmatch(r"\d{6}", region):
        county = counties().get(region)
        if county is not None:
            return Place(county.province, county.city, county.name, "", county.code)
        for county in counties().values():  # a city's or a province's code
            if region.endswith("0000") and county.code[:2] == region[:2]:
                return Place(county.province)
            if region.endswith("00") and county.code[:4] == region[:4]:
                return Place(county.province, county.city)
        return Place()
    if not region:
        return Place()
    if not region.endswith(_DIVISION_SUFFIXES):
        # A bare name that is a city's ("长沙") names the city, not a county of that name
        # (长沙县), as a bureau writing its region means it.
        for county in counties().values():
            if county.city == region + "市":
                return Place(county.province, county.city)
    province, city, district = _parse(region)
    county = _county(province, city, district) if district else None
    return Place(province, city, district, "", county.code if county else "")


def parse_place(title: str, text: str, region: str = "", default: Place | None = None) -> Place:
    """The place an ad names (see the module's docstring)."""
    default = default or Place()
    lines = snippets(title, text, region)
    province = city = district = note = ""
    for line in lines:
        p, c, d = _parse(line)
        if not (p or c or d):
            continue
        if d and default.city and c != default.city and c[:2] not in line:
            # A bare county name that the default region's city also has: the source's wins.
            local = _county(default.province, default.city, d)
            if local is not None:
                p, c = local.province, local.city
        if (province and p != province) or (city and c and c != city):
            continue  # a later line naming somewhere else ("朝天校区") does not move the ad
        if c:
            named = _districts_named(line, c)
            if len(named) > 1:
                province, city, district = p, c, ""
                note = "地址提到多个区县：" + "、".join(named)
                break
        if d:
            province, city, district = p, c, d
            break
        if p and not province:
            province = p
        if c and not city:
            city = c
    if city and not district and not note:
        # No address line names a district: one written out in full in the body is taken
        # ("佛山市顺德区乐从镇..."), several are not.
        named = _districts_named("\n".join([title, text]), city, province, short=False)
        if len(named) == 1:
            district = named[0]
    if not (province or city) and default.province:
        province, city = default.province, default.city
        if not district and not note and default.district:
            district = default.district
    elif province == default.province and not city:
        city = default.city
    county = _county(province, city, district) if district else None
    township = ""
    if county is not None:
        township = _township(county, "\n".join([region, title, text]))
    return Place(province, city, district, township, county.code if county else "", note)
