"""Search-driven discovery (issue 18 point 3): a source may search its site for terms instead of
(or beside) reading start pages.

``search: {url: "https://example.org/search?key={q}&page={page}", terms: [...], pages: 3}`` asks
the site's search for each term, pages 1 to ``pages``, and reads each result page with the
source's ``list.links``; every result is crawled once however many terms find it
(``crawler.spiders.search``). Without ``terms``, the terms are :data:`DEFAULT_TERMS` (the
disguises of DOMAIN.md that officers otherwise search for by hand) plus those supervisors added
in the admin (``review_ui.search_terms.SearchTerm``). The crawl's stats record which terms found
which URLs (``tutorwatch/search/found_by``), so the dashboard shows which terms find confirmed
violations.
"""

from __future__ import annotations

from urllib.parse import quote

# The disguises of DOMAIN.md ("Form" and "Wording that raises suspicion"): 托管 and 自习室 fronts,
# one-to-one and home tutoring, crowd-funded private tutors, live-in tutors, study planning,
# study tours, preschool 小学化, online variants.
DEFAULT_TERMS = (
    "托管", "晚托", "午托", "看护班", "自习室", "学习室", "一对一", "家教", "上门辅导",
    "住家教师", "高端家政", "拼课", "拼班", "众筹私教", "学业规划", "学情诊断", "研学",
    "游学", "幼小衔接", "学前班", "线上伴学", "陪读", "督学", "培优补差", "同步辅导",
)
DEFAULT_PAGES = 3


def search_url(template: str, term: str, page: int) -> str:
    """The search URL for ``term`` (percent-encoded as UTF-8) and result page ``page``."""
    return template.replace("{q}", quote(term, safe="")).replace("{page}", str(page))


def merged_terms(configured: tuple[str, ...], added: list[str]) -> list[str]:
    """The terms a search runs: the config's own, or the defaults plus the admin's, each once."""
    terms = list(configured) if configured else [*DEFAULT_TERMS, *added]
    return list(dict.fromkeys(t.strip() for t in terms if t and t.strip()))
