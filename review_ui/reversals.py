"""Reversals of an officer's decisions, for their work page: the supervisor's new decision and
note beside the decision it replaced, newest first."""

from __future__ import annotations

from review_ui.models import Decision

SHOWN = 20


def of_decisions_by(user) -> list[Decision]:
    """The latest reversals of ``user``'s decisions by someone else."""
    return list(Decision.objects.filter(reverses__officer=user).exclude(officer=user)
                .select_related("officer", "reverses", "item", "item__ad", "case")
                .defer("item__ad__raw_page", "item__ad__text", "item__ad__contact_raw")
                .order_by("-decided_at", "-pk")[:SHOWN])
