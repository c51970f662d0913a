"""The snapshot viewer (issue 20 point 5): the text view shows the extracted text under a banner
(URL, fetch time, SHA-256); the page view frames the stored page made inert, served under a CSP
that lets nothing load; the stored source stays available as inert text."""

from __future__ import annotations

import json

import lxml.html
import pytest
from django.urls import reverse

from review_ui.models import Ad, AuditEvent
from review_ui.snapshot import inert_page
from tests.review_ui.conftest import make_item

pytestmark = pytest.mark.django_db
THERE = "http://advertiser.example"
RAW = f"""<!DOCTYPE html><html><head><meta http-equiv="refresh" content="0; url={THERE}/r">
<base href="{THERE}/"><link rel="stylesheet" href="{THERE}/s.css"><script src="{THERE}/j.js">
</script><style>body {{ background: url({THERE}/bg.png) }} @import "{THERE}/i.css";</style>
</head><body onload="alert(1)"><h1 style="background:url('{THERE}/h.png')">数学一对一</h1>
<img src="{THERE}/p.gif" srcset="{THERE}/p2.gif 2x" alt="海报">
<img src="data:image/png;base64,iVBO">
<a href="{THERE}/join" ping="{THERE}/ping">报名</a><iframe src="{THERE}/f"></iframe>
<svg><image href="{THERE}/svg.png" xlink:href="{THERE}/x.png"/></svg>
<form action="{THERE}/post"><button formaction="{THERE}/b">提交</button></form>
<video poster="{THERE}/v.jpg"><source src="{THERE}/v.mp4"></video><!-- {THERE}/comment -->
</body></html>"""


def test_the_inert_page_refers_to_nothing_outside_it():
    page = inert_page(RAW)
    root = lxml.html.document_fromstring(page)
    assert THERE not in page.replace(f'title="{THERE}/join"', "")
    assert root.xpath("//a")[0].get("title") == f"{THERE}/join"  # readable, not followed
    assert root.xpath("//h1")[0].text == "数学一对一"
    assert [img.get("src") for img in root.xpath("//img")] == [None, "data:image/png;base64,iVBO"]
    assert not root.xpath("//script | //iframe | //link | //base | //meta | //source")
    assert "onload" not in page and "background:none" in page


def test_a_json_page_is_shown_as_its_text_formatted():
    page = inert_page(json.dumps({"title": "<b>补课</b>", "img": f"{THERE}/a.png"}))
    root = lxml.html.document_fromstring(page)
    assert json.loads(root.xpath("//pre")[0].text)["title"] == "<b>补课</b>"
    assert "<b>" not in page and "<img" not in page


def test_the_text_view_shows_the_extracted_text_under_the_banner(officer_client):
    result = make_item(url=f"{THERE}/post/9", title="初三物理 冲刺",
                       text="周末小班 <script>x</script>", raw_body=RAW.encode())
    ad = Ad.objects.get(pk=result.ad_id)
    response = officer_client.get(reverse("review_ui:snapshot", args=[ad.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "初三物理 冲刺" in page and "周末小班 &lt;script&gt;x&lt;/script&gt;" in page
    assert "数学一对一" not in page  # the stored page's source is not the text view
    banner = lxml.html.fromstring(page).xpath("//section[@class='snapshot-banner']")[0]
    words = banner.text_content()
    assert f"{THERE}/post/9" in words and ad.raw_sha256 in words and "2026-11-01 10:00:00" in words
    assert not banner.xpath(".//a[contains(@href, 'advertiser')]")


def test_the_page_view_frames_the_inert_page_under_a_csp_that_loads_nothing(officer_client):
    ad_id = make_item(raw_body=RAW.encode()).ad_id
    url = reverse("review_ui:snapshot", args=[ad_id])
    page = officer_client.get(url, {"as": "html"})
    assert "frame-src 'self'" in page["Content-Security-Policy"]
    frame = lxml.html.fromstring(page.content.decode()).xpath("//iframe")[0]
    assert frame.get("sandbox") == "" and frame.get("src") == "?as=frame"
    framed = officer_client.get(url, {"as": "frame"})
    csp = framed["Content-Security-Policy"]
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp and "img-src data:;" in csp
    assert "script" not in csp and framed["X-Frame-Options"] == "SAMEORIGIN"
    assert THERE + "/p.gif" not in framed.content.decode()
    source = officer_client.get(url, {"as": "source"})
    assert source["Content-Type"].startswith("text/plain") and THERE in source.content.decode()
    assert source["X-Content-Type-Options"] == "nosniff"
    # Each view a person opens is audited once; the frame belongs to the page view.
    assert list(AuditEvent.objects.filter(action="ad.snapshot_viewed")
                .values_list("detail__as", flat=True).order_by("pk")) == ["html", "source"]
    assert officer_client.get(url, {"as": "exe"}).status_code == 400
