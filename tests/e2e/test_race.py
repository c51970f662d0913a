"""Two officers deciding the same items at the same moment, as real concurrent HTTP requests
to gunicorn (several workers and threads) on a real store (SQLite, or PostgreSQL when
TUTORWATCH_TEST_PG is set): exactly one decision is recorded per item, the other officer gets a
409 saying so, nothing else changes, and the audit rows of both stay one hash chain."""

from __future__ import annotations

import threading

import pytest

from tests.e2e.live_ui import gunicorn, log_in, make_users, post, shell, shell_json

ITEMS = 12

SETUP_ITEMS = f"""
import json
from review_ui.store.ingest import ingest
from review_ui.models import ReviewItem
for i in range({ITEMS}):
    ingest([{{"url": f"http://127.0.0.1/race/{{i}}", "source": "race", "title": f"补课{{i}}",
                  "body_text": "初三数学 周末一对一", "phones": [f"1390000{{i:04d}}"],
                  "verdict": {{"score": 0.9, "label": 1, "category": "open_tutoring",
                               "evidence": [], "model_version": "m"}}}}])
print(json.dumps(list(ReviewItem.objects.order_by("pk").values_list("pk", flat=True))))
"""

COUNTS = """
import json
from django.db.models import Count
from review_ui.models import AuditEvent, Decision, ReviewItem
per_item = Decision.objects.values("item").annotate(n=Count("id")).order_by()
print(json.dumps({"decisions": Decision.objects.count(),
                  "max_per_item": max((row["n"] for row in per_item), default=0),
                  "decided_events": AuditEvent.objects.filter(action="item.decided").count(),
                  "pending": ReviewItem.objects.filter(status="pending").count()}))
"""


@pytest.mark.slow
@pytest.mark.pg
def test_two_officers_racing_on_the_same_items_record_exactly_one_decision_each(tutorwatch):
    tutorwatch("migrate", "-v", "0")
    make_users(tutorwatch, {"racer1": "officers", "racer2": "officers"})
    item_ids = shell_json(tutorwatch, SETUP_ITEMS)
    with gunicorn(tutorwatch.env, workers=2, threads=4) as url:
        sessions = [log_in(url, "racer1"), log_in(url, "racer2")]
        forms = [{"decision": "confirmed", "reason": "open_tutoring", "note": "racer1"},
                 {"decision": "dismissed", "reason": "adult", "note": "racer2"}]
        outcomes = []
        for item_id in item_ids:
            barrier = threading.Barrier(2)
            responses: list = [None, None]

            def race(i: int, item_id: int = item_id, barrier=barrier, responses=responses) -> None:
                barrier.wait()
                responses[i] = post(sessions[i], f"{url}/items/{item_id}/decide/", forms[i])

            threads = [threading.Thread(target=race, args=(i,)) for i in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            codes = sorted(r.status_code for r in responses)
            assert codes == [302, 409], codes
            loser = next(r for r in responses if r.status_code == 409)
            assert "该条目已被处理" in loser.text
            outcomes.append(responses[0].status_code == 302)
        for session in sessions:
            session.close()
    counts = shell_json(tutorwatch, COUNTS)
    assert counts == {"decisions": ITEMS, "max_per_item": 1, "decided_events": ITEMS, "pending": 0}
    notes = shell(tutorwatch, "from review_ui.models import Decision; "
                              "print(len(Decision.objects.filter(note='racer1')))")
    assert int(notes) == sum(outcomes)
    # Every audit row the racing workers wrote is in one unbroken chain.
    assert "audit log OK" in tutorwatch("audit", "verify").stdout.decode()
