"""Alerts about crawl runs that failed or died, and about scheduled training (a candidate that
beats the current model, a training that failed): by email and/or by a webhook.

- Email goes through Django's mail settings (``TUTORWATCH_EMAIL_*``) to the addresses in
  ``TUTORWATCH_ALERT_EMAILS``.
- The webhook is a JSON POST of ``{"msgtype": "text", "text": {"content": ...}}`` to
  ``TUTORWATCH_ALERT_WEBHOOK``: the message that DingTalk (钉钉) and WeCom (企业微信) group robots
  accept. With ``TUTORWATCH_ALERT_WEBHOOK_SECRET`` the URL is signed the way DingTalk's
  "加签" security setting expects. Every message starts with "tutorwatch", which also suits
  DingTalk's keyword setting.

The text is in the site's language (``LANGUAGE_CODE``) and links to the run's page (the model
versions page) when ``TUTORWATCH_UI_URL`` is set. A channel that fails is logged and recorded on
the run (``run.alerts``); it never hides the run's own outcome.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crawler.monitors import (
    CAPPED_REASONS,
    block_kinds,
    failed_by_reason,
    failed_urls,
    reasons_text,
    weak_selectors,
)
from review_ui.models import CrawlRun

logger = logging.getLogger("tutorwatch.alerts")
WEBHOOK_TIMEOUT = 10  # seconds


def describe_failure(failure: Mapping[str, Any]) -> str:
    """A failed health check in words, in the active language."""
    check = failure.get("check")
    if check == "blocked":
        return describe_block(failure.get("kinds") or [])
    if check == "site_down":
        return _("The site is down or blocking us: %(failed)s of %(pages)s pages failed "
                 "(%(reasons)s). The pages could not be fetched; this is not a layout "
                 "change.") % {
            "failed": failure.get("failed"), "pages": failure.get("pages"),
            "reasons": reasons_text(failure.get("reasons") or {}),
        }
    if check == "selectors_unmatched":
        return _("The layout has changed: the pages were fetched but %(selectors)s.") % {
            "selectors": _("; ").join(selector_hit_text(s) for s in failure.get("selectors") or ())
        }
    if check == "zero_items":
        if failure.get("fetched") == 0:
            return _("The crawl found no ads at all: no page could be read.")
        return _("The crawl found no ads at all: has the site changed its layout?")
    if check == "parse_failures":
        return _("%(failed)s of %(parsed)s pages could not be parsed (%(share)s; the limit is "
                 "%(limit)s).") % {
            "failed": failure.get("failed"), "parsed": failure.get("parsed"),
            "share": f"{float(failure.get('share', 0)):.0%}",
            "limit": f"{float(failure.get('limit', 0)):.0%}",
        }
    if check == "selectors_missed":
        return _("The selectors found no text on %(missed)s of %(pages)s detail pages, kept as "
                 "the whole page's text (%(share)s; the limit is %(limit)s): has the site "
                 "changed its layout?") % {
            "missed": failure.get("missed"), "pages": failure.get("pages"),
            "share": f"{float(failure.get('share', 0)):.0%}",
            "limit": f"{float(failure.get('limit', 0)):.0%}",
        }
    if check == "few_items":
        return _("The crawl found %(found)s ads, far fewer than the %(expected)s of recent runs "
                 "(the limit is %(ratio)s of them).") % {
            "found": failure.get("found"), "expected": f"{float(failure.get('expected', 0)):g}",
            "ratio": f"{float(failure.get('ratio', 0)):.0%}",
        }
    return str(check)


def selector_hit_text(hit: Mapping[str, Any]) -> str:
    """``detail.posted_at matched 0 of 5 pages``, in the active language."""
    return _("%(key)s matched %(matched)s of %(pages)s pages") % {
        "key": hit.get("key"), "matched": hit.get("matched"), "pages": hit.get("pages")}


def failed_pages_text(stats: Mapping[str, Any]) -> str:
    """``Failed pages 1 (http_500 1)``: each URL once after its retries, the same count as the
    crawl summary's ``failed pages`` and the run page's."""
    counts = failed_by_reason(stats)
    shown = _("Failed pages %(count)s") % {"count": sum(counts.values())}
    return f"{shown} ({reasons_text(counts)})" if counts else shown


def describe_block(kinds: list[str]) -> str:
    """The site is blocking us, in words: what it answered, and that nothing is forced."""
    names = {"slider": _("a slider challenge"), "captcha": _("a captcha"),
             "login": _("a login wall"), "rate_limit": _("a 'too many requests' page"),
             "verify": _("a security check")}
    shown = _(", ").join(names.get(k, k) for k in kinds) or _("a challenge")
    return _("The site is blocking us: it answered with %(kinds)s instead of its pages. The "
             "crawl stopped and the source backs off; nothing tries to get past the "
             "challenge.") % {"kinds": shown}


def run_problems(run: CrawlRun) -> list[str]:
    """Why a run is not healthy, one sentence each, in the active language."""
    problems = []
    if run.status == CrawlRun.Status.INTERRUPTED:
        if run.finish_reason in ("process died", "no sign of life"):
            problems.append(_("The crawl process died or stopped answering (%(reason)s).")
                            % {"reason": run.finish_reason})
        else:
            problems.append(_("The crawl was stopped before it finished (%(reason)s).")
                            % {"reason": run.finish_reason})
    elif run.finish_reason == "blocked":
        problems.append(describe_block(block_kinds(run.stats or {})))
    elif run.finish_reason and run.finish_reason not in ("finished", *CAPPED_REASONS):
        problems.append(_("The crawl ended early: %(reason)s.") % {"reason": run.finish_reason})
    problems.extend(describe_failure(f) for f in run.health)
    return problems


def run_url(run: CrawlRun) -> str:
    base = (settings.TUTORWATCH_UI_URL or "").rstrip("/")
    return f"{base}{reverse('review_ui:run', args=[run.pk])}" if base else ""


def compose(run: CrawlRun) -> tuple[str, str]:
    """(subject, text) of the alert about ``run``, in the site's language."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("tutorwatch: crawl of %(source)s %(status)s") % {
            "source": run.source.name, "status": run.get_status_display(),
        }
        lines = [subject, ""]
        lines += [f"- {problem}" for problem in run_problems(run)]
        lines += [
            "",
            _("Run %(id)s (%(kind)s, %(trigger)s), started %(started)s, ended %(ended)s.") % {
                "id": run.pk, "kind": run.get_kind_display(), "trigger": run.get_trigger_display(),
                "started": f"{timezone.localtime(run.started_at):%Y-%m-%d %H:%M:%S}",
                "ended": (f"{timezone.localtime(run.finished_at):%Y-%m-%d %H:%M:%S}"
                          if run.finished_at else "—"),
            },
            _("Pages %(pages)s, ads %(items)s (new %(new)s), flagged %(flagged)s, errors "
              "%(errors)s.") % {"pages": run.pages, "items": run.items, "new": run.new_ads,
                                "flagged": run.flagged, "errors": run.errors},
            failed_pages_text(run.stats or {}),
        ]
        urls = failed_urls(run.stats or {})
        if urls:
            lines.append(_("Failing URLs (up to 5 for each reason):"))
            lines += [f"  {reason}: {url}" for reason, kept in urls.items() for url in kept]
        weak = weak_selectors(run.stats or {})
        if weak:
            lines.append(_("Selectors that matched on fewer than half the pages: %(hits)s") % {
                "hits": _("; ").join(selector_hit_text(hit) for hit in weak)})
        link = run_url(run)
        if link:
            lines.append(link)
    return subject, "\n".join(lines)


def dingtalk_signed(url: str, secret: str, now_ms: int | None = None) -> str:
    """``url`` with DingTalk's ``timestamp`` and ``sign`` parameters (HMAC-SHA256 of
    "timestamp\\nsecret" with the secret, base64)."""
    timestamp = str(now_ms if now_ms is not None else round(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"


def post_webhook(url: str, content: str, secret: str = "") -> str:
    """POST a robot text message; returns "ok", or raises RuntimeError saying what went wrong."""
    body = json.dumps({"msgtype": "text", "text": {"content": content}}, ensure_ascii=False)
    target = dingtalk_signed(url, secret) if secret else url
    request = urllib.request.Request(
        target, data=body.encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
            reply = response.read(65536)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise RuntimeError(str(getattr(exc, "reason", exc))) from None
    try:
        data = json.loads(reply or b"{}")
    except ValueError:
        return "ok"
    code = data.get("errcode", 0) if isinstance(data, dict) else 0
    if code not in (0, "0"):
        raise RuntimeError(f"the robot refused the message: errcode {code}, {data.get('errmsg')}")
    return "ok"


def send_alert(subject: str, text: str) -> dict[str, str]:
    """Send one alert on every configured channel; returns each channel's outcome."""
    outcome: dict[str, str] = {}
    recipients = list(settings.TUTORWATCH_ALERT_EMAILS)
    if recipients:
        try:
            send_mail(subject, text, None, recipients, fail_silently=False)
            outcome["email"] = "sent to " + ", ".join(recipients)
        except Exception as exc:  # smtplib and socket raise many unrelated types
            outcome["email"] = f"failed: {type(exc).__name__}: {exc}"
            logger.error("alert email to %s failed: %s", recipients, exc)
    webhook = settings.TUTORWATCH_ALERT_WEBHOOK
    if webhook:
        try:
            secret = settings.TUTORWATCH_ALERT_WEBHOOK_SECRET
            outcome["webhook"] = post_webhook(webhook, text, secret)
        except RuntimeError as exc:
            outcome["webhook"] = f"failed: {exc}"
            logger.error("alert webhook failed: %s", exc)
    if not outcome:
        logger.warning("no alert channel is configured (TUTORWATCH_ALERT_EMAILS, "
                       "TUTORWATCH_ALERT_WEBHOOK): %s", subject)
    return outcome


def send_run_alert(run: CrawlRun) -> dict[str, str]:
    subject, text = compose(run)
    logger.warning("%s", text.replace("\n", " | "))
    return send_alert(subject, text)


# --- Scheduled training (review_ui.scheduling) --------------------------------------------------
def models_url() -> str:
    base = (settings.TUTORWATCH_UI_URL or "").rstrip("/")
    return f"{base}{reverse('review_ui:models')}" if base else ""


def compose_candidate(version: str, comparison: Any, promotion: str) -> tuple[str, str]:
    """(subject, text) of the alert that a scheduled candidate beats the current model: each
    figure with both F1s and the difference, then what became of it (``promotion``)."""
    from review_ui.model_registry import split_name

    with translation.override(settings.LANGUAGE_CODE):
        subject = _("tutorwatch: candidate model %(version)s beats the current model") % {
            "version": version}
        lines = [subject, "", _("Compared with the current model %(current)s on the same data:")
                 % {"current": comparison.against or "?"}]
        for split, (cur, cand) in {**comparison.compared, **comparison.informative}.items():
            lines.append(_("- %(split)s: F1 %(candidate).4f against %(current).4f (%(gain)+.4f)")
                         % {"split": split_name(split), "candidate": cand, "current": cur,
                            "gain": cand - cur})
        lines += [f"- {note}" for note in comparison.missing]
        lines += ["", promotion]
        link = models_url()
        if link:
            lines.append(link)
    return subject, "\n".join(lines)


def compose_training_failed(reason: str) -> tuple[str, str]:
    """(subject, text) of the alert that a scheduled training failed."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("tutorwatch: scheduled training failed")
        lines = [subject, "", reason, "",
                 _("The current model is unchanged.")]
    return subject, "\n".join(lines)


def send_training_alert(subject: str, text: str) -> dict[str, str]:
    logger.warning("%s", text.replace("\n", " | "))
    return send_alert(subject, text)
