"""Operators: who is behind the ads (issue 19, point 1).

Ads are linked into one :class:`~review_ui.operators.models.Operator` when they share a
normalised phone or WeChat id (the contact index, ``review_ui.store.contacts``) or belong to one
group of near-copies (``review_ui.duplicates``), transitively. ``linking`` keeps the grouping up
to date as the store takes ads; ``views`` shows an operator; ``summary`` gives the queue its
line and its bonus for operators with confirmed violations.

Settings: ``TUTORWATCH_OPERATOR_HUB_CAP`` (a contact carried by more ads than this links none).
"""
