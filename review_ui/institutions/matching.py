"""Ads matched to the licensing lists, kept in the store and read by the pages, the API and the
exports.

An ad is matched when first read after it or the lists changed (:func:`matches_for`): by its
phones and WeChat ids through the institutions' contact index (``InstitutionContact``), and by
the brand names in its text through an in-memory :class:`~review_ui.institutions.names.NameIndex`
built once per version of the lists in each process. The matches are stored
(``InstitutionMatch``) with the version and a stamp of the ad's text and contacts
(``AdInstitutionCheck``), so a page view reads three small queries and never the whole list.

Any change to an institution (import, admin) re-indexes its contacts and gives the lists a new
version (:func:`bump_version`); the admin's saves do it through the signals at the end of this
module.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils.translation import gettext as _

from review_ui.forms import contact_list
from review_ui.institutions import names, scope
from review_ui.institutions.models import (
    AdInstitutionCheck,
    InstitutionContact,
    InstitutionListVersion,
    InstitutionMatch,
)
from review_ui.models import Ad, AdContact, Institution

logger = logging.getLogger("tutorwatch")

CONTACT_SCORE = 100.0
_MOBILE_DIGITS = 11
# Institution rows whose stored contacts had an unexpected shape, warned about once per process
# and shape (a row changed to another bad shape is warned about again).
_MALFORMED_WARNED: set[tuple[int, str, str]] = set()


# --- The lists' side ----------------------------------------------------------------------------

def set_brand(institution: Institution) -> None:
    """Fill the normalised name fields from ``name`` (not saved)."""
    institution.brand, institution.brand_regions = names.brand_of(institution.name)
    institution.name_key = names.name_key(institution.name)


def _contact_keys(institution: Institution) -> set[tuple[str, str]]:
    phones, phones_ok = contact_list(institution.phones)
    wechat, wechat_ok = contact_list(institution.wechat_ids)
    shape = (institution.pk, repr(institution.phones), repr(institution.wechat_ids))
    if not (phones_ok and wechat_ok) and shape not in _MALFORMED_WARNED:
        _MALFORMED_WARNED.add(shape)
        logger.warning("institution %s (%r): phones or WeChat ids are not a list of strings "
                       "(phones=%r, wechat_ids=%r); read as %r and %r. Save it in the admin "
                       "to store them as lists.", institution.pk, institution.name,
                       institution.phones, institution.wechat_ids, phones, wechat)
    keys = {(AdContact.PHONE, p[:64]) for p in phones} | {(AdContact.WECHAT, w[:64])
                                                           for w in wechat}
    # A mobile number is a WeChat account too, either way round.
    keys |= {(AdContact.WECHAT, p) for p in phones if len(p) == _MOBILE_DIGITS}
    keys |= {(AdContact.PHONE, w) for w in wechat if w.isdigit() and len(w) == _MOBILE_DIGITS}
    return keys


def index_contacts(institutions: Iterable[Institution]) -> None:
    """Replace the contact index rows of these (saved) institutions."""
    institutions = list(institutions)
    InstitutionContact.objects.filter(institution__in=[i.pk for i in institutions]).delete()
    InstitutionContact.objects.bulk_create(
        InstitutionContact(institution_id=inst.pk, kind=kind, value=value)
        for inst in institutions for kind, value in sorted(_contact_keys(inst)))


def current_version() -> int:
    row = InstitutionListVersion.objects.filter(pk=1).values_list("number", flat=True).first()
    return row or 0


def bump_version() -> None:
    """Give the lists a new version: every stored match is read again when next needed. The
    version is random, not counted: a number a rolled-back change had taken may come again
    with other contents, and a process's index of it would then be wrong."""
    number = secrets.randbits(62) + 1
    if not InstitutionListVersion.objects.filter(pk=1).update(number=number):
        InstitutionListVersion.objects.get_or_create(pk=1, defaults={"number": number})


_index_lock = threading.Lock()
_index: tuple[int, names.NameIndex] | None = None


def name_index(version: int) -> names.NameIndex:
    """The brands of the lists at ``version``, built once per process and version."""
    global _index
    with _index_lock:
        if _index is None or _index[0] != version:
            rows = Institution.objects.values_list("pk", "brand", "brand_regions")
            _index = (version, names.NameIndex(rows.iterator(chunk_size=5000)))
        return _index[1]


@receiver(pre_save, sender=Institution)
def _brand_before_save(sender: type, instance: Institution, **kwargs: object) -> None:
    set_brand(instance)


@receiver(post_save, sender=Institution)
def _index_after_save(sender: type, instance: Institution, **kwargs: object) -> None:
    index_contacts([instance])
    bump_version()


@receiver(post_delete, sender=Institution)
def _count_after_delete(sender: type, instance: Institution, **kwargs: object) -> None:
    bump_version()


# --- The ads' side ------------------------------------------------------------------------------

def ad_stamp(ad: Ad) -> str:
    """What of an ad matching reads, hashed: its title, text and contacts."""
    digest = hashlib.sha1(usedforsecurity=False)
    for part in (ad.title, ad.text, *sorted(map(str, ad.phones or [])), "\x00",
                 *sorted(map(str, ad.wechat_ids or []))):
        digest.update(str(part).encode("utf-8", "surrogatepass") + b"\x1f")
    return digest.hexdigest()


def _ad_keys(ad: Ad) -> set[tuple[str, str]]:
    return ad.contact_keys() | {(AdContact.WECHAT, str(p)) for p in ad.phones or []
                                if len(str(p)) == _MOBILE_DIGITS}


def match_ads(ads: list[Ad], version: int | None = None) -> None:
    """Match these ads against the lists and store the matches, replacing earlier ones."""
    if not ads:
        return
    version = current_version() if version is None else version
    keys = {ad.pk: _ad_keys(ad) for ad in ads}
    by_key: dict[tuple[str, str], set[int]] = defaultdict(set)
    wanted = set().union(*keys.values())
    if wanted:
        query = Q()
        for kind in {kind for kind, _ in wanted}:
            query |= Q(kind=kind, value__in=sorted(v for k, v in wanted if k == kind))
        for inst_id, kind, value in InstitutionContact.objects.filter(query).values_list(
                "institution_id", "kind", "value"):
            by_key[kind, value].add(inst_id)
    index = name_index(version)
    rows: list[InstitutionMatch] = []
    for ad in ads:
        found: dict[int, InstitutionMatch] = {}
        for kind, value in sorted(keys[ad.pk]):
            for inst_id in sorted(by_key.get((kind, value), ())):
                method = (InstitutionMatch.Method.PHONE if kind == AdContact.PHONE
                          else InstitutionMatch.Method.WECHAT)
                found.setdefault(inst_id, InstitutionMatch(
                    ad_id=ad.pk, institution_id=inst_id, method=method, score=CONTACT_SCORE,
                    words=value))
        for hit in index.match(f"{ad.title}\n{ad.text}"):
            found.setdefault(hit.institution_id, InstitutionMatch(
                ad_id=ad.pk, institution_id=hit.institution_id,
                method=InstitutionMatch.Method.NAME, score=hit.score, words=hit.words[:100]))
        rows.extend(found.values())
    ids = [ad.pk for ad in ads]
    # Officers opening the same queue page at once match the same ads at once: the rows another
    # request wrote meanwhile (the same, for the same lists) are kept, not an error. Rows of
    # another version of the lists are matched again on the next look.
    with transaction.atomic():
        InstitutionMatch.objects.filter(ad_id__in=ids).delete()
        # An institution deleted since the index was built is left out.
        alive = set(Institution.objects.filter(pk__in={r.institution_id for r in rows})
                    .values_list("pk", flat=True))
        InstitutionMatch.objects.bulk_create((r for r in rows if r.institution_id in alive),
                                             ignore_conflicts=True)
        AdInstitutionCheck.objects.filter(ad_id__in=ids).delete()
        AdInstitutionCheck.objects.bulk_create(
            (AdInstitutionCheck(ad_id=ad.pk, list_version=version, ad_stamp=ad_stamp(ad))
             for ad in ads), ignore_conflicts=True)


def _ensure_matched(ads: list[Ad], version: int) -> None:
    checks = {ad_id: (list_version, stamp) for ad_id, list_version, stamp in
              AdInstitutionCheck.objects.filter(ad_id__in=[a.pk for a in ads])
              .values_list("ad_id", "list_version", "ad_stamp")}
    stale = [ad for ad in ads if checks.get(ad.pk) != (version, ad_stamp(ad))]
    if stale:
        match_ads(stale, version)


@dataclass
class ListStatus:
    """What the lists say about one ad."""

    status: str = ""  # Institution.Kind value, or "" when no listed institution matched
    matches: list[InstitutionMatch] = field(default_factory=list)
    scope_problems: list[str] = field(default_factory=list)

    @property
    def best(self) -> InstitutionMatch | None:
        return self.matches[0] if self.matches else None


_KIND_ORDER = {Institution.Kind.BLACKLISTED: 0, Institution.Kind.LICENSED: 1}


def statuses(ads: list[Ad], with_scope: bool = False) -> dict[int, ListStatus]:
    """Each ad's status on the lists (matching the ads first if they or the lists changed).
    A blacklisted match wins over a licensed one; within a list, the higher score."""
    ads = [ad for ad in ads if ad.pk is not None]
    if not ads:
        return {}
    _ensure_matched(ads, current_version())
    found: dict[int, ListStatus] = {ad.pk: ListStatus() for ad in ads}
    matches = (InstitutionMatch.objects.filter(ad_id__in=list(found))
               .select_related("institution"))
    for match in matches:
        found[match.ad_id].matches.append(match)
    by_pk = {ad.pk: ad for ad in ads}
    for ad_id, status in found.items():
        status.matches.sort(key=lambda m: (_KIND_ORDER.get(m.institution.kind, 9), -m.score,
                                           m.institution.name))
        if status.matches:
            status.status = status.best.institution.kind
        if with_scope and status.status == Institution.Kind.LICENSED:
            ad = by_pk[ad_id]
            status.scope_problems = describe(scope.problems(
                status.best.institution.scope, f"{ad.title}\n{ad.text}"))
    return found


def describe(problems: list[scope.ScopeProblem]) -> list[str]:
    words = {
        "subject": _("it advertises %(detail)s, outside the permitted scope"),
        "late": _("classes end after 20:30 (%(detail)s)"),
        "rest_day": _("subject classes on rest days or in the vacations (%(detail)s)"),
    }
    return [words[p.kind] % {"detail": p.detail} for p in problems]


def export_fields(ads: list[Ad]) -> dict[int, tuple[str, str]]:
    """(``institution``, ``institution_list``) of each ad, as the exports and the API give
    them: the best match's name and list, or two empty strings."""
    return {ad_id: ((s.best.institution.name, s.status) if s.best else ("", ""))
            for ad_id, s in statuses(ads).items()}


def queue_badges(ad_ids: list[int]) -> dict[int, tuple[str, str]]:
    """For a queue page: (list, institution name) of the ads that matched a listed one."""
    if not ad_ids:
        return {}
    ads = list(Ad.objects.filter(pk__in=ad_ids).only("title", "text", "phones", "wechat_ids"))
    return {ad_id: (s.status, s.best.institution.name)
            for ad_id, s in statuses(ads).items() if s.best}


# --- The operators' side ------------------------------------------------------------------------

@dataclass
class OperatorInstitution:
    """A listed institution that ads of one operator match: how many of them, and how sure."""

    institution: Institution
    ads: int
    score: float  # the best of the ads' matches
    methods: list[str]  # the ways its ads matched it, contacts first

    @property
    def method_labels(self) -> list[str]:
        labels = dict(InstitutionMatch.Method.choices)
        return [str(labels[m]) for m in self.methods]


_METHOD_ORDER = {InstitutionMatch.Method.PHONE: 0, InstitutionMatch.Method.WECHAT: 1,
                 InstitutionMatch.Method.NAME: 2}


def operator_institutions(operator_id: int, limit: int = 500) -> list[OperatorInstitution]:
    """The listed institutions the ads of an operator match, by contact or by name: an operator
    is matched through its ads. Its ads not yet matched against the current lists (never, or
    before the last import) are matched first, ``limit`` of them a call; an ad whose text
    changed since is matched again when its own page is read. Blacklisted first, then by the
    number of ads, then by score."""
    if not Institution.objects.exists():
        return []
    version = current_version()
    unchecked = list(
        Ad.objects.filter(operator_link__operator_id=operator_id)
        .exclude(institution_check__list_version=version)
        .only("title", "text", "phones", "wechat_ids")[:limit])
    if unchecked:
        match_ads(unchecked, version)
    found: dict[int, OperatorInstitution] = {}
    ads: dict[int, set[int]] = defaultdict(set)
    matches = (InstitutionMatch.objects.filter(ad__operator_link__operator_id=operator_id)
               .select_related("institution").order_by("pk"))
    for match in matches:
        entry = found.setdefault(match.institution_id, OperatorInstitution(
            match.institution, 0, match.score, []))
        ads[match.institution_id].add(match.ad_id)
        entry.score = max(entry.score, match.score)
        if match.method not in entry.methods:
            entry.methods.append(match.method)
    for inst_id, entry in found.items():
        entry.ads = len(ads[inst_id])
        entry.methods.sort(key=lambda m: _METHOD_ORDER.get(m, 9))
    return sorted(found.values(), key=lambda e: (
        _KIND_ORDER.get(e.institution.kind, 9), -e.ads, -e.score, e.institution.name))
