"""Officers' digests (issue 19, point 4): new high-score items in their townships, hourly or
daily, through the alert channels (``review_ui.alerts``: the bureau's DingTalk/WeCom robot, or
email to the officer's own address).

The scheduler's digest job (``TUTORWATCH_DIGEST_SCHEDULE``, hourly by default) calls
:func:`send_due_digests`; ``tutorwatch digests send`` does the same by hand. A subscription is
due once its period has passed since the end of what it last covered; its digest lists the
items queued since then whose ad is in its district (and townships, when it names some) and
scores at least its lowest score. The message is Chinese, names each item by its title only
(never the ad's text) with a link to it, and is not sent when there is nothing new. A channel
that fails is recorded on the subscription, which then covers the same items next time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from review_ui.alerts import post_webhook
from review_ui.models import ReviewItem
from review_ui.places.models import DigestSubscription

logger = logging.getLogger("tutorwatch.digests")
MAX_LISTED = 50  # items named in one message; the rest are counted
TITLE_SHOWN = 60


@dataclass
class DigestOutcome:
    subscription: int
    items: int
    # Shown on the officer's page, so in Chinese: "已发送到 ...", "没有新条目", "发送失败：..."
    outcome: str


def digest_items(subscription: DigestSubscription, until: datetime) -> QuerySet:
    items = ReviewItem.objects.filter(
        created_at__gt=subscription.covered_until,
        created_at__lte=until,
        ad__district=subscription.district,
        ad__verdict__score__gte=subscription.min_score,
    ).exclude(status=ReviewItem.Status.MERGED)
    if subscription.townships:
        items = items.filter(ad__township__in=list(subscription.townships))
    return items.select_related("ad", "ad__verdict").order_by("-ad__verdict__score", "pk")


def item_link(item: ReviewItem) -> str:
    base = (settings.TUTORWATCH_UI_URL or "").rstrip("/")
    return f"{base}{reverse('review_ui:ad', args=[item.ad_id])}"


def compose(
    subscription: DigestSubscription, items: list[ReviewItem], until: datetime
) -> tuple[str, str]:
    """(subject, text) of a digest: Chinese, titles and links only."""
    where = subscription.district + (
        "（" + "、".join(subscription.townships) + "）" if subscription.townships else ""
    )
    period = "每小时" if subscription.frequency == DigestSubscription.Frequency.HOURLY else "每日"
    subject = f"tutorwatch {period}摘要：{where} 新增 {len(items)} 条高分线索"
    lines = [
        subject,
        f"时间：{timezone.localtime(subscription.covered_until):%Y-%m-%d %H:%M} 至 "
        f"{timezone.localtime(until):%Y-%m-%d %H:%M}，分数不低于 {subscription.min_score:.2f}",
        "",
    ]
    for number, item in enumerate(items[:MAX_LISTED], 1):
        title = (item.ad.title or "（无标题）").replace("\n", " ")
        title = title if len(title) <= TITLE_SHOWN else title[: TITLE_SHOWN - 1] + "…"
        place = item.ad.township or item.ad.district
        lines.append(f"{number}. [{item.ad.verdict.score:.2f}] {title}（{place}）")
        lines.append(f"   {item_link(item)}")
    if len(items) > MAX_LISTED:
        lines.append(f"另有 {len(items) - MAX_LISTED} 条，请在审核队列中按乡镇筛选查看。")
    return subject, "\n".join(lines)


def _send(subscription: DigestSubscription, subject: str, text: str) -> str:
    if subscription.channel == DigestSubscription.Channel.WEBHOOK:
        if not settings.TUTORWATCH_ALERT_WEBHOOK:
            raise RuntimeError("未配置机器人（TUTORWATCH_ALERT_WEBHOOK）")
        post_webhook(
            settings.TUTORWATCH_ALERT_WEBHOOK, text, settings.TUTORWATCH_ALERT_WEBHOOK_SECRET
        )
        return "已发送到机器人"
    address = subscription.user.email
    if not address:
        raise RuntimeError(f"用户 {subscription.user.get_username()} 没有邮箱地址")
    try:
        send_mail(subject, text, None, [address], fail_silently=False)
    except Exception as exc:  # smtplib and socket raise many unrelated types
        raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
    return f"已发送到 {address}"


def send_digest(subscription: DigestSubscription, now: datetime | None = None) -> DigestOutcome:
    now = now or timezone.now()
    items = list(digest_items(subscription, now))
    if not items:
        subscription.covered_until = now
        subscription.save(update_fields=["covered_until"])
        return DigestOutcome(subscription.pk, 0, "没有新条目")
    subject, text = compose(subscription, items, now)
    try:
        outcome = _send(subscription, subject, text)
    except RuntimeError as exc:
        outcome = f"发送失败：{exc}"
        logger.error("digest %s for %s failed: %s", subscription.pk, subscription.user, exc)
    else:
        subscription.covered_until = now
        subscription.last_sent_at = now
    subscription.last_outcome = outcome[:300]
    subscription.save(update_fields=["covered_until", "last_sent_at", "last_outcome"])
    return DigestOutcome(subscription.pk, len(items), outcome)


def send_due_digests(now: datetime | None = None) -> list[DigestOutcome]:
    """Send every due subscription's digest (the scheduler's digest job)."""
    now = now or timezone.now()
    subscriptions = DigestSubscription.objects.select_related("user").filter(user__is_active=True)
    return [send_digest(s, now) for s in subscriptions if s.due(now)]
