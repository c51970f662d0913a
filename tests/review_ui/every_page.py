"""Every page of the review UI, with a store that gives each one something to show: used by the
test of the pages' words (test_page_words.py) and the accessibility test (tests/e2e/test_axe.py).

``sample_store()`` writes a few ads (pending, escalated into a case, dismissed), a crawl run with
Scrapy's stats, a lead, a role change made on the command line and a refused filter's target;
``page_paths(ids)`` walks review_ui/urls.py and names, for every GET route, the address to open
with those objects. Users are named in Chinese, so a user name is never an English word.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from review_ui import runs
from review_ui.models import Case, Lead, ReviewItem
from review_ui.operators.models import AdOperator
from review_ui.roles import ADMINS, OFFICERS, SUPERVISORS, grant
from tests.review_ui.conftest import PASSWORD, make_item

ROLES = {"officer": ("王警官", OFFICERS), "supervisor": ("李主任", SUPERVISORS),
         "admin": ("赵管理员", ADMINS)}
# Routes that are not pages for people: files (CSV, XLSX, PDF, PNG, pictures) and POST-only
# changes. Every other named route of review_ui/urls.py must be listed in PATHS' walk.
NOT_PAGES = {
    "review_ui:claim", "review_ui:release", "review_ui:decide", "review_ui:reverse",
    "review_ui:export_cases", "review_ui:audit_export", "review_ui:promote_model",
    "review_ui:case_evidence", "review_ui:screenshot", "intake:image", "intake:lead_case",
    "intake:lead_import", "review_ui:case_note", "review_ui:digest_unsubscribe", "operators:split",
}
# Extra addresses of one route: the snapshot's views, a filtered queue, refused filters (the
# error page names fields). The snapshot's frame (?as=frame) is the advertiser's page, not ours.
VARIANTS = {
    "review_ui:snapshot": ["", "?as=html"],
    "review_ui:queue": ["", "?status=all", "?page=x&status=无此状态"],
    "review_ui:audit": ["", "?action=no.such.action&date_from=yesterday"],
    "review_ui:work": ["", "?date_from=nonsense"],
    "review_ui:batch": ["?value=13912345678"],  # the sample ads' phone
}
STATS = {
    "start_time": "2026-11-01T02:00:00.123456+00:00", "finish_time": "2026-11-01T02:03:10+00:00",
    "elapsed_time_seconds": 190.25, "finish_reason": "finished", "memusage/max": 408375296,
    "downloader/request_count": 35, "downloader/response_count": 35,
    "downloader/response_status_count/200": 31, "downloader/response_status_count/404": 1,
    "downloader/response_bytes": 34280, "retry/reason_count/500 Internal Server Error": 2,
    "tutorwatch/pages/list": 3, "tutorwatch/pages/detail": 27, "item_scraped_count": 26,
    "tutorwatch/items/flagged": 13, "tutorwatch/items/dropped/empty": 1,
    "tutorwatch/failed_urls": {"http_404": ["http://127.0.0.1:8701/post/404.shtml"]},
    "log_count/WARNING": 3, "some_extension/new_figure": 4,
}


@dataclass
class Samples:
    ad_id: int
    run_id: int
    case_id: int
    lead_id: int
    operator_id: int


def sample_store() -> Samples:
    users = {}
    for role, (name, group) in ROLES.items():
        users[role] = get_user_model().objects.create_user(name, password=PASSWORD)
        grant(users[role], group, by="系统运维")
    officer = users["officer"]
    pending = make_item("http://127.0.0.1/post/1", verdict={
        "score": 0.93, "label": 1, "category": "open_tutoring", "evidence": ["一对一辅导"],
        "model_version": "tutorwatch-202611010900-ab12cd34"})
    escalated = make_item("http://127.0.0.1/post/2", title="暑期研学营 小升初衔接")
    dismissed = make_item("http://127.0.0.1/post/3", title="钢琴陪练 成人零基础")
    item = ReviewItem.objects.get(ad_id=escalated.ad_id)
    item.claim(officer)
    item.decide(officer, "escalated", "周末集中授课", reason="camp", new_case=True)
    other = ReviewItem.objects.get(ad_id=dismissed.ad_id)
    other.claim(officer)
    other.decide(officer, "dismissed", "", reason="adult")
    grant(get_user_model().objects.create_user("张新人"), OFFICERS, by="系统运维")
    run = runs.finish_run(runs.start_run({"name": "county_forum", "kind": "html"}), STATS,
                          "finished")
    lead = Lead.objects.create(text="有人在小区里办数学补习班，电话 13912345678",
                               phones=["13912345678"], place="幸福小区", entered_by=officer,
                               received_at=timezone.now())
    return Samples(ad_id=pending.ad_id, run_id=run.pk,
                   case_id=Case.objects.get().pk, lead_id=lead.pk,
                   operator_id=AdOperator.objects.get(ad_id=pending.ad_id).operator_id)


def _routes(resolver: URLResolver, namespace: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in ("review_ui", "intake", "operators"):
                found += _routes(entry, entry.namespace)
        elif namespace and entry.name:
            found.append((f"{namespace}:{entry.name}", entry))
    return found


def page_paths(samples: Samples) -> list[str]:
    """Every GET page of review_ui/urls.py (and intake's), with the sample objects."""
    from django.urls import reverse

    kwargs = {"ad_id": samples.ad_id, "run_id": samples.run_id, "case_id": samples.case_id,
              "lead_id": samples.lead_id, "kind": "phone", "operator_id": samples.operator_id}
    paths = ["/accounts/login/"]
    for name, pattern in _routes(get_resolver()):
        if name in NOT_PAGES:
            continue
        wanted = {key: kwargs[key] for key in pattern.pattern.regex.groupindex}
        base = reverse(name, kwargs=wanted)
        paths += [base + variant for variant in VARIANTS.get(name, [""])]
    return paths
