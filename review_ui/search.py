"""One search box over the store: ads, leads, cases and listed institutions, by phone, WeChat id,
institution name or words of the text (issue 17 point 5).

What someone types is read once (:func:`parse`):

- a **phone** in any spelling — spaces, dashes, dots, brackets, full-width digits, ``+86``,
  ``0086`` or a bare leading ``86`` — becomes the digits a crawl stores (``13912345678``), through
  the same extraction that fills the contact index (``review_ui.models.contact_keys_in``). A
  query that is a phone and nothing else is answered from the index alone (``AdContact``'s
  ``(kind, value)`` index): no text is scanned, whatever the size of the store.
- a **WeChat id** (6–20 letters, digits, ``_`` or ``-``, starting with a letter; ``微信：abc``
  too) is found in the same index or in the text, since ``English_2024`` may as well be part of
  a name;
- a **case number** (``TW2026-00012``) finds that case;
- **words** (split at spaces and commas, at most ``MAX_WORDS`` with the WeChat ids) are found,
  in any case, in an ad's title or text, a case's note or its ads' text, or an institution's
  name or address.

Every term must match (``139 1234 5678 数学``: that phone and that word); a query of phones
alone finds any of them.

Each kind has its own searcher (:data:`SEARCHERS`): a function from a query to a page of hits
(``limit + 1`` rows read, so a next page is known without counting: on a million ads a count
of a text match costs seconds), the permission a user needs to see that kind, and its label.

Words are matched with ``contains`` (``icontains`` for words with letters that have a case) on
SQLite and PostgreSQL alike, reading the ads newest first a window of ids at a time
(:func:`newest_first`), so a common word is found among the newest ads at once; a word so rare
that every ad must be read is stopped after ``TEXT_SEARCH_SECONDS`` and said to be, rather
than "nothing found". Why no trigram index (yet): docs/benchmarks.md, the search section.

Leads (complaints, issue 17 point 4) are one more searcher (:func:`search_leads`), found
through their own contact index as ads are; a case is found through its leads too.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.db import OperationalError, connection, transaction
from django.db.models import Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from review_ui.auth import QUEUE_PERMISSION
from review_ui.highlight import Segment, segments
from review_ui.models import (
    Ad,
    AdContact,
    Case,
    Institution,
    Lead,
    LeadContact,
    ReviewItem,
    contact_keys_in,
)

MAX_QUERY = 100  # characters; a longer "query" is a pasted text, not something to look up
MAX_WORDS = 5
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
SNIPPET = 120  # characters of text shown around the first match
# A text search that reads every ad (a rare word) is stopped after this long.
TEXT_SEARCH_SECONDS = 5.0
# Ads a text search reads at a time, newest first (ids): see newest_first.
WINDOW = 50_000
# Ads of cases a text search reads at a time, by primary key.
CASE_BATCH = 1_000  # (5,000 a query read 13,780 ads of cases in 608 ms; 1,000: 184 ms)
# A case's page (review_ui.case_views); a store without it links a case to its first ad.
CASE_PAGE = "review_ui:case"
INSTITUTION_PERMISSION = "review_ui.view_institution"

ContactKey = tuple[str, str]

# A country code before a mobile number: "+86", "0086", or a bare "86" glued to the number.
_COUNTRY_CODE = re.compile(r"(?:\+\s*|(?<![0-9])00\s*)86(?=[\s\-.()（）]*1[3-9])"
                           r"|(?<![0-9])86(?=1[3-9][0-9]{9}(?![0-9]))")
# A token that is part of a phone number someone spelt with spaces ("139 1234 5678").
_PHONE_PIECE = re.compile(r"[0-9+\-.()（）]+")
_CASE_NUMBER = re.compile(r"TW\d{4}-\d{1,12}", re.IGNORECASE)
_SPLIT = re.compile(r"[\s,，;；、]+")


# Why a hit was found, as the results page says it.
MATCHED = {
    "phone": _("phone"),
    "wechat": _("WeChat id"),
    "number": pgettext_lazy("search", "case number"),
    "name": pgettext_lazy("search", "name or address"),
    "text": pgettext_lazy("search", "words of the text"),
}


class QueryError(ValueError):
    """A query that cannot be searched (empty, too long); the message says why."""


@dataclass(frozen=True)
class Query:
    """What was typed, read once for every searcher. Every term must match (a query of phones
    alone: any of them)."""

    text: str
    phones: tuple[str, ...] = ()  # digits, as ads' contacts are stored
    wechat_ids: tuple[str, ...] = ()  # each found in the contact index or in the text
    words: tuple[str, ...] = ()  # each found in the text (or a name, a note)
    case_number: str = ""

    @property
    def phone_only(self) -> bool:
        """Phones and nothing else: answered from the contact index, never by a text scan."""
        return bool(self.phones) and not (self.wechat_ids or self.words or self.case_number)

    @property
    def contact_keys(self) -> set[ContactKey]:
        return _keys(self.phones, self.wechat_ids)

    @property
    def terms(self) -> tuple[str, ...]:
        """What to mark in the text shown."""
        return self.words + self.wechat_ids + self.phones


def _keys(phones: tuple[str, ...], wechat_ids: tuple[str, ...]) -> set[ContactKey]:
    """Index keys, as ``contact_keys_in`` makes them: a mobile number is looked up as a phone
    and as a WeChat id (accounts go by them)."""
    return ({(AdContact.PHONE, p) for p in phones}
            | {(AdContact.WECHAT, w) for w in wechat_ids + phones})


def parse(text: str) -> Query:
    """Read a query: its phones (normalised as ads' are, by the same extraction), WeChat ids,
    case number and words. Raises :class:`QueryError` for an empty or overlong query."""
    text = (text or "").strip()
    if not text:
        raise QueryError(_("Type a phone number, WeChat id, name or words to search for."))
    if len(text) > MAX_QUERY:
        raise QueryError(_("A search is at most %(max)d characters.") % {"max": MAX_QUERY})
    folded = _COUNTRY_CODE.sub(" ", unicodedata.normalize("NFKC", text))
    phones = tuple(sorted(value for kind, value in contact_keys_in(folded)
                          if kind == AdContact.PHONE))
    wechat_ids: list[str] = []
    words: list[str] = []
    number = ""
    for token in _SPLIT.split(text):
        if not token:
            continue
        plain = unicodedata.normalize("NFKC", token)
        if phones and (_PHONE_PIECE.fullmatch(plain) or any(p in plain for p in phones)):
            continue  # the phone, or a piece of it ("139 1234 5678"): already a term
        if not number and _CASE_NUMBER.fullmatch(plain):
            number = plain.upper()
            continue
        named = [w for kind, w in contact_keys_in(token)
                 if kind == AdContact.WECHAT and w not in phones]
        if named:
            wechat_ids.extend(w for w in named if w not in wechat_ids)
        elif token not in words:
            words.append(token)
    if len(words) + len(wechat_ids) > MAX_WORDS:
        raise QueryError(_("Search for at most %(max)d words at once.") % {"max": MAX_WORDS})
    return Query(text=text, phones=phones, wechat_ids=tuple(wechat_ids), words=tuple(words),
                 case_number=number)


# --- Hits and searchers -------------------------------------------------------------------------

@dataclass(frozen=True)
class Hit:
    """One result: what it is, where its page is, and why it matched."""

    kind: str
    id: int
    title: str
    link: str
    matched: str  # "phone", "wechat", "number", "name" or "text"
    snippet: list[Segment] = field(default_factory=list)
    when: datetime | None = None
    api_link: str | None = None

    @property
    def matched_label(self) -> Promise | str:
        return MATCHED.get(self.matched, self.matched)

    @property
    def snippet_text(self) -> str:
        return "".join(piece for piece, _ in self.snippet)


@dataclass(frozen=True)
class Page:
    """One kind's hits for one page of results; ``has_next`` from one row read beyond it."""

    kind: str
    label: Promise | str
    hits: list[Hit]
    number: int
    has_next: bool
    too_slow: bool = False  # cancelled after TEXT_SEARCH_SECONDS: no hits, not "none found"


@dataclass(frozen=True)
class Searcher:
    kind: str
    label: Promise | str
    permission: str
    find: Callable[[Query, int, int], list[Hit]]  # (query, offset, count) -> up to count hits


def _any_field(fields: tuple[str, ...], word: str) -> Q:
    """``word`` in at least one of ``fields``, case-insensitively. A word with no letter that
    has a case (Chinese, digits) is matched as it is: on PostgreSQL ``icontains`` upper-cases
    every text it reads, which costs more than the match itself."""
    lookup = "icontains" if word.lower() != word.upper() else "contains"
    either = Q()
    for name in fields:
        either |= Q(**{f"{name}__{lookup}": word})
    return either


def _snippet(text: str, terms: tuple[str, ...]) -> list[Segment]:
    """About ``SNIPPET`` characters of ``text`` around the first term found, the terms marked.
    Plain segments: the template escapes them."""
    text = " ".join((text or "").split())
    lowered = text.lower()
    found = [at for at in (lowered.find(t.lower()) for t in terms if t) if at >= 0]
    start = max(0, min(found) - SNIPPET // 3) if found else 0
    piece = text[start:start + SNIPPET]
    if start > 0:
        piece = "…" + piece
    if start + SNIPPET < len(text):
        piece += "…"
    return segments(piece, list(terms))


def _contact_matched(phones: object, wechat_ids: object, query: Query) -> str | None:
    keys = query.contact_keys
    if any((AdContact.PHONE, str(p)) in keys for p in _listed(phones)):
        return "phone"
    if any((AdContact.WECHAT, str(w)) in keys for w in _listed(wechat_ids)):
        return "wechat"
    return None


def _listed(value: object) -> list:
    """A stored contact list, whatever shape a hand-edited row gave it."""
    return value if isinstance(value, list) else []


# --- Ads ----------------------------------------------------------------------------------------

AD_COLUMNS = ("id", "title", "url", "text", "phones", "wechat_ids", "fetched_at")
AD_TEXT = ("title", "text")


def ads_indexed_under(keys: set[ContactKey]) -> QuerySet:
    """Ids of the ads the contact index holds under any of ``keys``: an index lookup."""
    index = Q()
    for channel in sorted({channel for channel, _value in keys}):
        index |= Q(kind=channel, value__in=sorted(v for c, v in keys if c == channel))
    return AdContact.objects.filter(index).values("ad_id")


def ad_filter(query: Query) -> Q | None:
    """The ads the query finds, as a filter; None when nothing in the query can find an ad
    (a case number alone).

    Phones alone: any of them, from the contact index. Otherwise every term: each phone from
    the index; each WeChat id from the index or the text; each word from the title or text."""
    def indexed(keys: set[ContactKey]) -> Q:
        return Q(pk__in=ads_indexed_under(keys))

    if query.phone_only:
        return indexed(query.contact_keys)
    terms = [indexed(_keys((phone,), ())) for phone in query.phones]
    terms += [indexed(_keys((), (wechat_id,))) | _any_field(AD_TEXT, wechat_id)
              for wechat_id in query.wechat_ids]
    terms += [_any_field(AD_TEXT, word) for word in query.words]
    if not terms:
        return None
    match = Q()
    for term in terms:
        match &= term
    return match


def ad_matches(query: Query) -> QuerySet:
    """The ads the query finds, newest stored first (the primary key's order)."""
    match = ad_filter(query)
    return Ad.objects.none() if match is None else Ad.objects.filter(match).order_by("-pk")


def newest_first(matches: QuerySet, offset: int, count: int, deadline: float) -> list[dict]:
    """``matches[offset:offset + count]`` read one window of ``WINDOW`` ids at a time, newest
    first, until enough are found: a common word fills its page from the newest ads alone.
    (Asked for the whole range at once, PostgreSQL cannot tell how common a Chinese word is,
    and reads and sorts every match.) Past ``deadline`` (``time.monotonic()``): TooSlow."""
    newest = Ad.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    wanted = offset + count
    rows: list[dict] = []
    high = newest
    while high > 0 and len(rows) < wanted:
        if time.monotonic() > deadline:
            raise TooSlow
        low = max(0, high - WINDOW)
        rows += matches.filter(pk__gt=low, pk__lte=high).values(*AD_COLUMNS)[:wanted - len(rows)]
        high = low
    return rows[offset:wanted]


class TooSlow(Exception):
    """A text search ran past ``TEXT_SEARCH_SECONDS``: its words are rare, and every ad was
    read to find them."""


@contextmanager
def time_budget(query: Query):
    """On PostgreSQL, cancel any one statement of a search that reads text after
    ``TEXT_SEARCH_SECONDS`` (raising :class:`TooSlow`), so a rare word cannot hold a worker for
    the length of a scan of every ad. Between statements :func:`newest_first` keeps the same
    limit on both databases. A phone search is an index lookup and runs unbounded."""
    if query.phone_only or connection.vendor != "postgresql":
        yield
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('statement_timeout')")
            before = cursor.fetchone()[0]
            cursor.execute("SELECT set_config('statement_timeout', %s, true)",
                           [f"{max(1, int(TEXT_SEARCH_SECONDS * 1000))}"])
            yield
            # Within a longer transaction (a savepoint here) the limit would outlive the search.
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == "57014":  # query_canceled
            raise TooSlow from exc
        raise


def search_ads(query: Query, offset: int, count: int) -> list[Hit]:
    hits = []
    if query.phone_only:  # an index lookup: no window, no time limit
        rows = list(ad_matches(query).values(*AD_COLUMNS)[offset:offset + count])
    else:
        with time_budget(query):
            rows = newest_first(ad_matches(query), offset, count,
                                time.monotonic() + TEXT_SEARCH_SECONDS)
    for row in rows:
        hits.append(Hit(
            kind="ad", id=row["id"], title=row["title"] or row["url"],
            link=reverse("review_ui:ad", args=[row["id"]]),
            api_link=reverse("api:ad", args=[row["id"]]),
            matched=_contact_matched(row["phones"], row["wechat_ids"], query) or "text",
            snippet=_snippet(row["text"], query.terms), when=row["fetched_at"],
        ))
    return hits


# --- Cases --------------------------------------------------------------------------------------

def case_matches(query: Query) -> QuerySet[Case]:
    """Cases by number, or holding an ad or a lead the query finds, or (words only) by words
    of their note; newest first."""
    if query.case_number:
        found = Case.by_number(query.case_number)
        return Case.objects.filter(pk=found.pk if found is not None else None)
    by_ads = ad_filter(query)
    if by_ads is None:
        return Case.objects.none()
    if query.phone_only:  # index → items → cases
        match = Q(pk__in=ReviewItem.objects.filter(case__isnull=False).filter(
            ad_id__in=ads_indexed_under(query.contact_keys)).values("case_id"))
    else:
        match = Q(pk__in=sorted(_cases_holding(by_ads)))
    by_leads = lead_filter(query)
    if by_leads is not None:  # leads are few (thousands): one query
        match |= Q(pk__in=Lead.objects.filter(case__isnull=False).filter(by_leads)
                   .values("case_id"))
    if query.words and not (query.phones or query.wechat_ids):
        note = Q()
        for word in query.words:
            note &= Q(note__icontains=word)
        match |= note
    return Case.objects.filter(match).order_by("-opened_at", "-pk")


def _cases_holding(ad_match: Q) -> set[int]:
    """The cases holding an ad that ``ad_match`` finds, reading the ads of cases only, a batch
    of ids at a time. (Asked in one query, PostgreSQL guesses that a Chinese word is rare and
    reads every ad to find it before joining the few that are in cases.)"""
    pairs = list(ReviewItem.objects.filter(case__isnull=False).order_by("ad_id")
                 .values_list("ad_id", "case_id"))
    found: set[int] = set()
    for start in range(0, len(pairs), CASE_BATCH):
        case_of = dict(pairs[start:start + CASE_BATCH])
        matching = Ad.objects.filter(pk__in=list(case_of)).filter(ad_match).order_by()
        found |= {case_of[ad_id] for ad_id in matching.values_list("pk", flat=True)}
    return found


def case_link(case: Case, first_ad: int | None) -> str:
    """The case's page, or (until cases have one) the page of its first ad."""
    try:
        return reverse(CASE_PAGE, args=[case.pk])
    except NoReverseMatch:
        return reverse("review_ui:ad", args=[first_ad]) if first_ad else reverse("review_ui:queue")


def search_cases(query: Query, offset: int, count: int) -> list[Hit]:
    hits = []
    with time_budget(query):
        cases = list(case_matches(query)[offset:offset + count])
    for case in cases:
        ads = list(Ad.objects.filter(review_item__case=case).order_by("pk")
                   .values("id", "title", "text", "phones", "wechat_ids")[:50])
        if query.case_number:
            matched = "number"
        else:
            matched = next(filter(None, (_contact_matched(a["phones"], a["wechat_ids"], query)
                                         for a in ads)), None) or "text"
        described = " · ".join(filter(None, [case.note] + [a["title"] or a["text"]
                                                           for a in ads[:3]]))
        hits.append(Hit(kind="case", id=case.pk, title=case.number,
                        link=case_link(case, ads[0]["id"] if ads else None),
                        matched=matched, snippet=_snippet(described, query.terms),
                        when=case.opened_at))
    return hits


# --- Institutions -------------------------------------------------------------------------------

INSTITUTION_TEXT = ("name", "address")


def institution_matches(query: Query) -> QuerySet[Institution]:
    """Listed institutions by name or address, or listing the query's contacts, every term as
    for ads. The lists hold thousands of rows at most; their contacts are JSON lists, matched
    as text here (``"13912345678"`` with its quotes, so not a part of a longer number)."""
    def listed(field_name: str, value: str) -> Q:
        return Q(**{f"{field_name}__icontains": f'"{value}"'})

    if query.phone_only:
        match = Q(pk__in=[])
        for phone in query.phones:
            match |= listed("phones", phone) | listed("wechat_ids", phone)
        return Institution.objects.filter(match).order_by("name", "pk")
    terms = [listed("phones", p) | listed("wechat_ids", p) for p in query.phones]
    terms += [listed("wechat_ids", w) | _any_field(INSTITUTION_TEXT, w)
              for w in query.wechat_ids]
    terms += [_any_field(INSTITUTION_TEXT, word) for word in query.words]
    if not terms:
        return Institution.objects.none()
    match = Q()
    for term in terms:
        match &= term
    return Institution.objects.filter(match).order_by("name", "pk")


def search_institutions(query: Query, offset: int, count: int) -> list[Hit]:
    hits = []
    for inst in institution_matches(query)[offset:offset + count]:
        hits.append(Hit(
            kind="institution", id=inst.pk, title=inst.name,
            link=reverse("admin:review_ui_institution_change", args=[inst.pk]),
            matched=_contact_matched(inst.phones, inst.wechat_ids, query) or "name",
            snippet=_snippet(f"{inst.get_kind_display()} · {inst.region} · {inst.address}",
                             query.terms),
            when=inst.updated_at,
        ))
    return hits


# --- Leads -------------------------------------------------------------------------------------

LEAD_TEXT = ("text", "place", "institution", "ticket")


def lead_filter(query: Query) -> Q | None:
    """The leads the query finds, every term as for ads: phones from the leads' contact index
    (``LeadContact``, normalised as ads' are), WeChat ids from it or the text, words from the
    complaint, the place, the institution named or the ticket number."""
    def indexed(keys: set[ContactKey]) -> Q:
        index = Q()
        for channel in sorted({channel for channel, _value in keys}):
            index |= Q(kind=channel, value__in=sorted(v for c, v in keys if c == channel))
        return Q(pk__in=LeadContact.objects.filter(index).values("lead_id"))

    if query.phone_only:
        return indexed(query.contact_keys)
    terms = [indexed(_keys((phone,), ())) for phone in query.phones]
    terms += [indexed(_keys((), (wechat_id,))) | _any_field(LEAD_TEXT, wechat_id)
              for wechat_id in query.wechat_ids]
    terms += [_any_field(LEAD_TEXT, word) for word in query.words]
    if not terms:
        return None
    match = Q()
    for term in terms:
        match &= term
    return match


def search_leads(query: Query, offset: int, count: int) -> list[Hit]:
    """Leads (complaints, issue 17 point 4), newest received first; each links to its page."""
    match = lead_filter(query)
    if match is None:
        return []
    with time_budget(query):
        leads = list(Lead.objects.filter(match).order_by("-received_at", "-pk")
                     [offset:offset + count])
    hits = []
    for lead in leads:
        named = any(w.lower() in lead.institution.lower() for w in query.words)
        hits.append(Hit(
            kind="lead", id=lead.pk,
            title=" · ".join(filter(None, [lead.ticket, lead.institution])) or f"#{lead.pk}",
            link=reverse("intake:lead", args=[lead.pk]),
            matched=(_contact_matched(lead.phones, lead.wechat_ids, query)
                     or ("name" if named else "text")),
            snippet=_snippet(lead.text, query.terms), when=lead.received_at,
        ))
    return hits


SEARCHERS: list[Searcher] = [
    Searcher("ad", _("Ads"), QUEUE_PERMISSION, search_ads),
    Searcher("lead", pgettext_lazy("search", "Leads"), QUEUE_PERMISSION, search_leads),
    Searcher("case", pgettext_lazy("search", "Cases"), QUEUE_PERMISSION, search_cases),
    Searcher("institution", pgettext_lazy("search", "Listed institutions"), INSTITUTION_PERMISSION,
             search_institutions),
]
KINDS = [searcher.kind for searcher in SEARCHERS]


def searchers_for(user) -> list[Searcher]:
    """The kinds this user's role may see."""
    return [s for s in SEARCHERS if user.has_perm(s.permission)]


def search(query: Query, user, kind: str | None = None, page: int = 1,
           size: int = PAGE_SIZE) -> list[Page]:
    """One page of hits of each kind the user may see (or of ``kind`` only)."""
    pages = []
    for searcher in searchers_for(user):
        if kind and searcher.kind != kind:
            continue
        try:
            found = searcher.find(query, (page - 1) * size, size + 1)
        except TooSlow:
            pages.append(Page(kind=searcher.kind, label=searcher.label, hits=[], number=page,
                              has_next=False, too_slow=True))
            continue
        pages.append(Page(kind=searcher.kind, label=searcher.label, hits=found[:size],
                          number=page, has_next=len(found) > size))
    return pages
