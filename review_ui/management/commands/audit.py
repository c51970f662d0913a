"""``tutorwatch audit verify [--chunk N] [--expect PK:HASH]``: check the audit log's hash chain.

Walks every row in pk order (review_ui.audit_chain), N rows a query (5000). Prints the number of
rows checked and the last row's pk and hash, exit status 0; or names the first bad row (pk,
time, action, and what is wrong: content changed, chain broken, row missing), exit status 1.
``--expect`` gives a pk and hash that an earlier run printed and that was kept elsewhere: the
row must still be there with that hash, which catches what the chain alone cannot (rows removed
from the end, or the chain rewritten whole from some row on).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from review_ui import audit_chain
from review_ui.models import AuditEvent


class Command(BaseCommand):
    help = "Check the audit log's hash chain and name the first bad row."

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="task", required=True, metavar="verify")
        verify = actions.add_parser("verify", help="check every row of the chain")
        verify.add_argument("--chunk", type=int, default=audit_chain.CHUNK,
                            help=f"rows read per query (default {audit_chain.CHUNK})")
        verify.add_argument("--expect", metavar="PK:HASH",
                            help="a row an earlier run printed as the last: it must be unchanged")
        verify.add_argument("--database", default=DEFAULT_DB_ALIAS, help="database alias")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk"] < 1:
            raise CommandError("--chunk must be at least 1", returncode=2)
        if options["expect"]:
            _expected(options["expect"])  # a typo is told before the walk
        started = time.monotonic()
        result = audit_chain.verify(AuditEvent, options["database"], options["chunk"])
        took = time.monotonic() - started
        problem = result.problem
        if problem is None and options["expect"]:
            self._check_expected(*_expected(options["expect"]), result, options["database"])
        if problem is None:
            last = (f"last row pk {result.last_pk}, hash {result.last_hash}"
                    if result.last_pk is not None else "the log is empty")
            self.stdout.write(f"audit log OK: {_rows(result.checked)} checked in {took:.1f} s; "
                              f"{last}")
            return
        at = timezone.localtime(problem.at).isoformat(timespec="seconds")
        raise CommandError(
            f"audit log NOT intact: first bad row pk {problem.pk} ({at}, {problem.action}): "
            f"{problem.what}. Good rows before it: {result.checked}.",
            returncode=1,
        )

    def _check_expected(self, pk: int, expected: str, result: audit_chain.Verification,
                        database: str) -> None:
        found = (AuditEvent._base_manager.using(database).filter(pk=pk)
                 .values_list("hash", flat=True).first())
        if found is None:
            raise CommandError(
                f"audit log NOT intact: row pk {pk}, kept with hash {expected}, is gone "
                f"({_rows(result.checked)} left, the last pk {result.last_pk}): rows were "
                "removed from the end of the log", returncode=1)
        if found != expected:
            raise CommandError(
                f"audit log NOT intact: row pk {pk} has hash {found}, kept as {expected}: the "
                f"chain was rewritten from row pk {pk} or before", returncode=1)
        self.stdout.write(f"row pk {pk} still has the hash kept for it")


def _expected(value: str) -> tuple[int, str]:
    pk, _, hash_ = value.partition(":")
    if not pk.strip().isdigit() or len(hash_.strip()) != 64:
        raise CommandError(f"--expect {value!r}: give PK:HASH as an earlier run printed them",
                           returncode=2)
    return int(pk), hash_.strip().lower()


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"
