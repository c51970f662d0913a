"""Keeping operators up to date: a union-find over ads, in the store, as ads arrive.

Two ads are linked when they carry the same normalised phone or WeChat id (the contact index,
:class:`~review_ui.models.AdContact`) or are in one group of near-copies
(:class:`~review_ui.models.DuplicateGroup`); an operator is a connected set of linked ads.

- :func:`link_ads` runs inside the store's ingest transaction for each new or updated ad: it
  finds the operators of the ads it is linked with, joins the largest and merges the others
  into it (relabelling the smaller sets' ads: union by size, kept flat). Links only accumulate:
  an ad whose contact changed keeps its operator; splitting is a supervisor's act.
- **Hubs.** A contact carried by more than ``TUTORWATCH_OPERATOR_HUB_CAP`` ads (200 by default)
  is a platform's service number or an agency's, not an operator's: it is recorded as an
  :class:`~review_ui.operators.models.OperatorHub` and links no ads. When a contact crosses the
  cap, the operators it had glued together are recomputed without it.
- **Splits.** :func:`split` moves chosen ads of an operator to a new one (audited as
  ``operator.split``). The two parts get different pins, and operators with different pins are
  never merged: a new ad linked to both joins the larger one and the split stays.
- **Merges and cases.** Operators are merged automatically; cases are never touched by it.
  A case belongs to review items, so when two operators that each have cases are merged, the
  merged operator lists both cases as they are and the merge is audited
  (``operator.merged``, naming both operators' cases) for a supervisor to join them by hand.
- :func:`rebuild` computes every operator from scratch (``tutorwatch operators rebuild``), for
  a store that had ads before operators existed, or after the hub cap changed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q

from review_ui.models import Ad, AdContact, AuditEvent, ReviewItem
from review_ui.operators.models import AdOperator, Operator, OperatorHub, OperatorSplit

ContactKey = tuple[str, str]
DEFAULT_HUB_CAP = 500
CONFIRMED = (ReviewItem.Status.CONFIRMED, ReviewItem.Status.ESCALATED)


def hub_cap() -> int:
    return int(getattr(settings, "TUTORWATCH_OPERATOR_HUB_CAP", DEFAULT_HUB_CAP))


def _match(keys: Iterable[ContactKey]) -> Q:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in keys:
        by_kind[kind].append(value)
    match = Q()
    for kind, values in sorted(by_kind.items()):
        match |= Q(kind=kind, value__in=sorted(values))
    return match


def _linked_operators(
    keys: set[ContactKey], events: list[AuditEvent], ad: Ad | None = None
) -> dict[int, int | None]:
    """The operators of the ads sharing one of ``keys`` that is not a hub, in one query. A key
    found carried by more ads than the cap is recorded as a hub here (and the operators it had
    linked are recomputed): it links nothing. Known hubs are left out by the query.

    The query is written out: it runs for every ad a crawl stores, and the ORM's building of
    it (and the join through the ads table its relations imply) cost more than running it.
    It comes back grouped by operator, with each one's count of ads carrying the key."""
    if not keys:
        return {}
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in keys:
        by_kind[kind].append(value)
    where, params = [], []
    for kind, values in sorted(by_kind.items()):
        where.append(f"(c.kind = %s AND c.value IN ({', '.join(['%s'] * len(values))}))")
        params += [kind, *sorted(values)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.kind, c.value, o.operator_id, o.pin, COUNT(*) "
            f"FROM {AdContact._meta.db_table} c "
            f"LEFT JOIN {AdOperator._meta.db_table} o ON o.ad_id = c.ad_id "
            f"WHERE ({' OR '.join(where)}) AND NOT EXISTS (SELECT 1 FROM "
            f"{OperatorHub._meta.db_table} h WHERE h.kind = c.kind AND h.value = c.value) "
            f"GROUP BY c.kind, c.value, o.operator_id, o.pin",
            params,
        )
        rows = cursor.fetchall()
    per_key: dict[ContactKey, list[tuple[int | None, int | None]]] = defaultdict(list)
    carried: Counter[ContactKey] = Counter()
    for kind, value, operator_id, pin, ads in rows:
        per_key[kind, value].append((operator_id, pin))
        carried[kind, value] += ads
    cap = hub_cap()
    linked: dict[int, int | None] = {}
    for key, operators in per_key.items():
        if carried[key] > cap:
            _record_hub(key, carried[key], events, ad)
        else:
            linked.update((op, pin) for op, pin in operators if op is not None)
    return linked


def _join(ad_id: int, operator_id: int, pin: int | None) -> bool:
    """Add one ad to an operator not merged away (its size, then the ad's link), as two written
    statements; False, with nothing written, when it was merged into another meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Operator._meta.db_table} SET size = size + 1 "
            f"WHERE id = %s AND merged_into_id IS NULL",
            [operator_id],
        )
        if not cursor.rowcount:
            return False
        cursor.execute(
            f"INSERT INTO {AdOperator._meta.db_table} (ad_id, operator_id, pin) "
            f"VALUES (%s, %s, %s)",
            [ad_id, operator_id, pin],
        )
    return True


def _record_hub(key: ContactKey, ads: int, events: list[AuditEvent] | None, ad: Ad | None) -> None:
    _, created = OperatorHub.objects.get_or_create(kind=key[0], value=key[1], defaults={"ads": ads})
    if not created:
        return
    operators = set(
        AdOperator.objects.filter(
            ad_id__in=AdContact.objects.filter(kind=key[0], value=key[1]).values("ad_id")
        )
        .values_list("operator_id", flat=True)
        .distinct()
    )
    parts = []
    for operator_id in sorted(operators):
        parts += recompute(operator_id)
    event = AuditEvent(
        action="operator.hub_found",
        ad=ad,
        detail={
            "kind": key[0],
            "value": key[1],
            "ads": ads,
            "cap": hub_cap(),
            "operators": sorted(operators),
            "parts": sorted(parts),
        },
    )
    if events is not None:
        events.append(event)
    else:
        event.save()


def link_ads(ads: list[Ad], events: list[AuditEvent], new: set[int] = frozenset()) -> None:
    """Give each of ``ads`` (stored, its contacts indexed and its group of copies set) its
    operator, in order; audit rows of merges go to ``events``. ``new``: the ids of those
    created in this transaction (they have no operator yet)."""
    for ad in ads:
        link_ad(ad, events, ad.pk in new)


def link_ad(ad: Ad, events: list[AuditEvent], new: bool = True) -> int:
    """Link one ad; the id of its operator. A new ad linked to one operator costs three
    statements: the contacts' operators, the ad's row, the operator's size."""
    linked = _linked_operators(ad.contact_keys(), events, ad)
    if ad.duplicate_group_id is not None:
        linked.update(
            AdOperator.objects.filter(ad__duplicate_group_id=ad.duplicate_group_id)
            .values_list("operator_id", "pin")
            .distinct()
        )
    own = (
        None
        if new
        else AdOperator.objects.filter(ad_id=ad.pk).values_list("operator_id", flat=True).first()
    )
    if own is not None:
        linked[own] = None
    if len(linked) == 1 and own is None:
        ((only, pin),) = linked.items()
        # One operator, not merged away meanwhile (else the locked path below). The pin read
        # with its ads is the operator's (every ad carries its operator's pin).
        if _join(ad.pk, only, pin):
            return only
        linked = {Operator.objects.get(pk=only).current().pk: None}
    operators = list(Operator.objects.select_for_update().filter(pk__in=linked).order_by("pk"))
    if not operators:
        target = Operator.objects.create(size=1)
        AdOperator.objects.create(ad_id=ad.pk, operator=target)
        return target.pk
    # The ad's own operator first (its pin holds it), then the largest, then the oldest.
    operators.sort(key=lambda o: (o.pk != own, -o.size, o.pk))
    target, pin = operators[0], operators[0].pin
    absorbed = []
    for other in operators[1:]:
        if other.pin is None or pin is None or other.pin == pin:
            pin = pin if pin is not None else other.pin
            absorbed.append(other)
    joining = own is None
    if absorbed:
        _merge(target, absorbed, pin, events, ad, joining=joining)
    elif joining:
        _execute(f"UPDATE {Operator._meta.db_table} SET size = size + 1 WHERE id = %s",
                 [target.pk])
    if joining:
        _execute(f"INSERT INTO {AdOperator._meta.db_table} (ad_id, operator_id, pin) "
                 f"VALUES (%s, %s, %s)", [ad.pk, target.pk, target.pin])
    return target.pk


def _execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _in(values: list[int]) -> str:
    return ", ".join(["%s"] * len(values))


def _merge(
    target: Operator,
    absorbed: list[Operator],
    pin: int | None,
    events: list[AuditEvent],
    ad: Ad | None,
    joining: bool = False,
) -> None:
    """Relabel the ads of ``absorbed`` as ``target``'s (which takes ``pin``); ``joining``: the
    ad being linked joins the target too (its size counts it; the caller writes its link).
    The statements are written out, as the hot ones of :func:`link_ad` are."""
    ids = [other.pk for other in absorbed]
    cases = _cases([target.pk, *ids]) if ids else {}
    links, operators = AdOperator._meta.db_table, Operator._meta.db_table
    _execute(f"UPDATE {links} SET operator_id = %s, pin = %s WHERE operator_id IN ({_in(ids)})",
             [target.pk, pin, *ids])
    if pin != target.pin:  # the target took an absorbed operator's pin
        _execute(f"UPDATE {links} SET pin = %s WHERE operator_id = %s", [pin, target.pk])
    target.size += sum(other.size for other in absorbed) + int(joining)
    target.confirmed += sum(other.confirmed for other in absorbed)
    target.pin = pin
    _execute(f"UPDATE {operators} SET size = %s, confirmed = %s, pin = %s WHERE id = %s",
             [target.size, target.confirmed, pin, target.pk])
    _execute(f"UPDATE {operators} SET merged_into_id = %s, size = 0, confirmed = 0 "
             f"WHERE id IN ({_in(ids)})", [target.pk, *ids])
    for other in absorbed:
        events.append(
            AuditEvent(
                action="operator.merged",
                ad=ad,
                detail={
                    "into": target.pk,
                    "from": other.pk,
                    "ads": other.size,
                    "cases_into": cases.get(target.pk, []),
                    "cases_from": cases.get(other.pk, []),
                    # A merge of operators that each have cases leaves both cases as they are.
                    "both_have_cases": bool(cases.get(target.pk) and cases.get(other.pk)),
                },
            )
        )


def _cases(operator_ids: list[int]) -> dict[int, list[str]]:
    """The case numbers of each operator's review items (and leads are joined to cases, not
    to operators)."""
    from review_ui.models import Case

    found: dict[int, list[str]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT o.operator_id, r.case_id, c.opened_at FROM {ReviewItem._meta.db_table} r "
            f"JOIN {AdOperator._meta.db_table} o ON o.ad_id = r.ad_id "
            f"JOIN {Case._meta.db_table} c ON c.id = r.case_id "
            f"WHERE o.operator_id IN ({_in(operator_ids)}) "
            f"ORDER BY r.priority DESC, r.created_at DESC",
            operator_ids,
        )
        rows = cursor.fetchall()
    for operator_id, case_id, opened_at in rows:
        number = Case(pk=case_id, opened_at=_aware(opened_at)).number
        if number not in found[operator_id]:
            found[operator_id].append(number)
    return dict(found)


def _aware(value):
    """A time read by a written query as the ORM gives it: SQLite hands back the stored text,
    in UTC without an offset."""
    from datetime import UTC

    from django.utils.dateparse import parse_datetime

    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


# --- components ---------------------------------------------------------------------------------


class _Sets:
    """A union-find with a pin per set: sets with different pins are never joined."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.size: dict[int, int] = {}
        self.pin: dict[int, int | None] = {}

    def add(self, item: int, pin: int | None) -> None:
        self.parent[item], self.size[item], self.pin[item] = item, 1, pin

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        pa, pb = self.pin[a], self.pin[b]
        if pa is not None and pb is not None and pa != pb:
            return
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        self.pin[a] = pa if pa is not None else pb

    def groups(self) -> dict[int, list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        for item in self.parent:
            found[self.find(item)].append(item)
        return found


def _link_within(sets: _Sets, rows: Iterable[tuple[int, object]]) -> None:
    """Union the items of each key: ``rows`` are (item, key)."""
    first: dict[object, int] = {}
    for item, key in rows:
        if item not in sets.parent:
            continue
        seen = first.setdefault(key, item)
        if seen != item:
            sets.union(seen, item)


def recompute(operator_id: int) -> list[int]:
    """Recompute one operator's links (after a contact of it became a hub): its ads fall into
    connected parts; the largest keeps the operator, each other part gets a new one (with the
    same pin). The ids of the new operators."""
    members = dict(AdOperator.objects.filter(operator_id=operator_id).values_list("ad_id", "pin"))
    if len(members) < 2:
        return []
    sets = _Sets()
    for ad_id, pin in members.items():
        sets.add(ad_id, pin)
    hubs = set(OperatorHub.objects.values_list("kind", "value"))
    contacts = [
        (ad_id, (kind, value))
        for ad_id, kind, value in AdContact.objects.filter(ad_id__in=list(members)).values_list(
            "ad_id", "kind", "value"
        )
        if (kind, value) not in hubs
    ]
    _link_within(sets, sorted(contacts))
    _link_within(
        sets,
        Ad.objects.filter(pk__in=list(members), duplicate_group__isnull=False)
        .values_list("pk", "duplicate_group_id")
        .order_by("pk"),
    )
    parts = sorted(sets.groups().values(), key=lambda part: (-len(part), min(part)))
    if len(parts) < 2:
        return []
    created = []
    for part in parts[1:]:
        new = Operator.objects.create(size=len(part), pin=sets.pin[sets.find(part[0])])
        AdOperator.objects.filter(ad_id__in=part).update(operator=new)
        created.append(new.pk)
    Operator.objects.filter(pk=operator_id).update(size=len(parts[0]))
    recount_confirmed([operator_id, *created])
    return created


def recount_confirmed(operator_ids: Iterable[int]) -> None:
    ids = list(operator_ids)
    counts = dict(
        ReviewItem.objects.filter(status__in=CONFIRMED, ad__operator_link__operator_id__in=ids)
        .values_list("ad__operator_link__operator_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for operator_id in ids:
        Operator.objects.filter(pk=operator_id).update(confirmed=counts.get(operator_id, 0))


# --- splits -------------------------------------------------------------------------------------


class SplitRefused(ValueError):
    """A split that cannot be made (its message says why, for the supervisor)."""


def split(operator: Operator, ad_ids: Iterable[int], officer, note: str) -> Operator:
    """Move ``ad_ids`` (some, not all, ads of ``operator``) to a new operator, and keep the two
    parts apart from now on; audited as ``operator.split``."""
    from django.utils.translation import gettext

    wanted = set(ad_ids)
    with transaction.atomic():
        current = Operator.objects.select_for_update().get(pk=operator.pk)
        if current.merged_into_id is not None:
            raise SplitRefused(gettext("This operator was merged into another; split that one."))
        members = set(AdOperator.objects.filter(operator=current).values_list("ad_id", flat=True))
        if not wanted or not wanted <= members:
            raise SplitRefused(gettext("Choose ads of this operator to split off."))
        if wanted == members:
            raise SplitRefused(gettext("Leave at least one ad with the operator."))
        new = Operator.objects.create(size=len(wanted))
        record = OperatorSplit.objects.create(
            operator=current, new_operator=new, ads_moved=len(wanted), note=note, split_by=officer
        )
        AdOperator.objects.filter(ad_id__in=wanted).update(operator=new, pin=record.pin_moved)
        AdOperator.objects.filter(operator=current).update(pin=record.pin_kept)
        Operator.objects.filter(pk=new.pk).update(pin=record.pin_moved)
        Operator.objects.filter(pk=current.pk).update(
            pin=record.pin_kept, size=len(members - wanted)
        )
        recount_confirmed([current.pk, new.pk])
        AuditEvent.record(
            officer,
            "operator.split",
            detail={
                "operator": current.pk,
                "new_operator": new.pk,
                "ads": sorted(wanted),
                "kept": len(members - wanted),
                "note": note,
                "split": record.pk,
            },
        )
    new.refresh_from_db()
    return new


# --- from scratch -------------------------------------------------------------------------------


def rebuild(chunk: int = 5000) -> dict[str, int]:
    """Compute every ad's operator from scratch, keeping pins (splits) and, where it can, the
    operator ids ads had. Returns figures for the command to print."""
    cap = hub_cap()
    with transaction.atomic():
        ads = list(Ad.objects.order_by("pk").values_list("pk", "duplicate_group_id"))
        before = dict(AdOperator.objects.values_list("ad_id", "operator_id"))
        pins = dict(AdOperator.objects.filter(pin__isnull=False).values_list("ad_id", "pin"))
        sets = _Sets()
        for ad_id, _group in ads:
            sets.add(ad_id, pins.get(ad_id))
        contact_rows = list(
            AdContact.objects.order_by("ad_id")
            .values_list("ad_id", "kind", "value")
            .iterator(chunk_size=chunk)
        )
        per_key = Counter((kind, value) for _, kind, value in contact_rows)
        hubs = {key: n for key, n in per_key.items() if n > cap}
        known = set(OperatorHub.objects.values_list("kind", "value"))
        OperatorHub.objects.bulk_create(
            [
                OperatorHub(kind=k, value=v, ads=n)
                for (k, v), n in hubs.items()
                if (k, v) not in known
            ]
        )
        _link_within(
            sets,
            (
                (ad_id, (kind, value))
                for ad_id, kind, value in contact_rows
                if (kind, value) not in hubs
            ),
        )
        del contact_rows
        _link_within(sets, ((ad_id, group) for ad_id, group in ads if group is not None))
        parts = sorted(sets.groups().values(), key=lambda part: (-len(part), min(part)))

        # Each part keeps the old operator most of its ads had, if no larger part took it.
        taken: set[int] = set()
        owner: dict[int, int] = {}
        new_rows = []
        for part in parts:
            votes = Counter(before[ad_id] for ad_id in part if ad_id in before)
            keep = next((op for op, _n in votes.most_common() if op not in taken), None)
            if keep is None:
                new_rows.append(part)
            else:
                taken.add(keep)
                owner.update((ad_id, keep) for ad_id in part)
        fresh = Operator.objects.bulk_create(
            [Operator(size=len(part), pin=sets.pin[sets.find(part[0])]) for part in new_rows],
            batch_size=chunk,
        )
        for operator, part in zip(fresh, new_rows, strict=True):
            owner.update((ad_id, operator.pk) for ad_id in part)
        sizes: Counter[int] = Counter(owner.values())
        pin_of = {owner[part[0]]: sets.pin[sets.find(part[0])] for part in parts}
        AdOperator.objects.all().delete()
        AdOperator.objects.bulk_create(
            (
                AdOperator(ad_id=ad_id, operator_id=op, pin=pin_of[op])
                for ad_id, op in owner.items()
            ),
            batch_size=chunk,
        )
        Operator.objects.bulk_update(
            [Operator(pk=op, size=sizes[op], pin=pin_of[op], merged_into=None) for op in taken],
            ["size", "pin", "merged_into"],
            batch_size=chunk,
        )
        # Operators no part kept forward to the one now holding most of their old ads.
        gone = set(before.values()) - set(sizes)
        forward: dict[int, Counter[int]] = defaultdict(Counter)
        for ad_id, op in before.items():
            if op in gone and ad_id in owner:
                forward[op][owner[ad_id]] += 1
        for op in gone:
            into = forward[op].most_common(1)[0][0] if forward[op] else None
            Operator.objects.filter(pk=op).update(merged_into=into, size=0, confirmed=0)
        counts = dict(
            ReviewItem.objects.filter(status__in=CONFIRMED)
            .values_list("ad__operator_link__operator_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        Operator.objects.filter(pk__in=set(sizes), confirmed__gt=0).update(confirmed=0)
        for op, n in counts.items():
            if op is not None:
                Operator.objects.filter(pk=op).update(confirmed=n)
    return {
        "ads": len(owner),
        "operators": len(sizes),
        "hubs": len(hubs),
        "largest": max(sizes.values(), default=0),
        "forwarded": len(gone),
    }
