"""Place parsing on the real-world ads: what each candidate library reads from every text.

    python benchmarks/places.py [REAL_WORLD_DIR] > places-eval.tsv

Prints one line per ad (id, the address lines found, then province/city/district/township as
read by: tutorwatch's parser (jionlp over the address lines), jionlp on the whole text, cpca on
the address lines, cpca on the whole text), and the parsing time per ad of each, as a ratio to
the cheapest (reading the address lines alone), and the parser's time before and after it
asks jionlp only about the divisions a line names. The share given a correct district is
hand-checked from this output (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

# benchmarks/review_ui.py would shadow the package when run as a script from this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from review_ui.places import parser  # noqa: E402
from review_ui.places.parser import parse_place, snippets  # noqa: E402

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/real-world")


def main() -> None:
    import cpca
    import jionlp

    rows = [json.loads(line) for line in (ROOT / "texts.jsonl").open(encoding="utf-8")]
    titled = [(r["id"], *(r["text"].split("\n", 1) + [""])[:2]) for r in rows]
    timings: dict[str, float] = {}

    def timed(name, fn):
        start = time.perf_counter()
        out = [fn(t, x) for _, t, x in titled]
        timings[name] = time.perf_counter() - start
        return out

    def cpca_of(texts: list[str]) -> tuple[str, str, str]:
        for text in texts:
            frame = cpca.transform([text])
            p, c, d = (frame.iloc[0][k] for k in ("省", "市", "区"))
            values = tuple("" if not isinstance(v, str) else v for v in (p, c, d))
            if any(values):
                return values
        return ("", "", "")

    parse_place("", "地址：长沙市")  # load the division data before timing
    jionlp.parse_location("长沙市")
    timed("floor: address lines only", lambda t, x: snippets(t, x))
    # Before: every address line through jionlp's parse_location as it is (each text tried
    # against all its divisions). After: the same parser asked only about the divisions whose
    # names the line holds (parser._NarrowedParser). Both with the per-line cache emptied.
    narrowed = parser._location_parser
    parser._location_parser = lambda: lambda s: jionlp.parse_location(s, change2new=True)
    parser._parse.cache_clear()
    before = timed("tutorwatch before (plain parse_location)", lambda t, x: parse_place(t, x))
    parser._location_parser = narrowed
    parser._parse.cache_clear()
    ours = timed("tutorwatch (jionlp over address lines)", lambda t, x: parse_place(t, x))
    assert before == ours, "the narrowed parser must read what jionlp reads"
    whole = timed(
        "jionlp, whole text", lambda t, x: jionlp.parse_location(t + "\n" + x, town_village=True)
    )
    cpca_lines = timed("cpca, address lines", lambda t, x: cpca_of(snippets(t, x)))
    cpca_whole = timed("cpca, whole text", lambda t, x: cpca_of([t + "\n" + x]))
    for (ident, title, text), a, b, c, d in zip(
        titled, ours, whole, cpca_lines, cpca_whole, strict=True
    ):
        print(
            "\t".join(
                [
                    ident,
                    " / ".join(snippets(title, text))[:80],
                    "|".join(a.as_dict().values()) + (f" ({a.note})" if a.note else ""),
                    "|".join(b.get(k) or "" for k in ("province", "city", "county", "town")),
                    "|".join(c),
                    "|".join(d),
                ]
            )
        )
    checked = json.loads(
        (Path(__file__).parent / "data" / "places_checked.json").read_text(encoding="utf-8")
    )["district"]
    results = {
        "tutorwatch": [p.district for p in ours],
        "jionlp, whole text": [r.get("county") or "" for r in whole],
        "cpca, address lines": [c[2] for c in cpca_lines],
        "cpca, whole text": [d[2] for d in cpca_whole],
    }
    for name, districts in results.items():
        by_id = dict(zip([t[0] for t in titled], districts, strict=True))
        right = sum(by_id[i] == d for i, d in checked.items())
        wrong = sum(bool(by_id[i]) and by_id[i] != d for i, d in checked.items())
        print(
            f"# {name}: correct district (or correctly none) {right}/{len(checked)}, "
            f"a wrong district {wrong}, missed {len(checked) - right - wrong}",
            file=sys.stderr,
        )
    floor = timings.pop("floor: address lines only")
    for name, seconds in timings.items():
        print(
            f"# {name}: {seconds / len(titled) * 1000:.2f} ms per ad, "
            f"{seconds / floor:.0f}x the floor",
            file=sys.stderr,
        )
    after = timings["tutorwatch (jionlp over address lines)"]
    before_s = timings["tutorwatch before (plain parse_location)"]
    print(
        f"# narrowing: before / after = {before_s / after:.1f}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
