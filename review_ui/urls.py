from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path
from django.views.i18n import set_language

from review_ui import (
    batch_views,
    capture_views,
    case_views,
    search_terms_views,
    snapshot_views,
    views,
)
from review_ui.auth import ThrottledLoginView
from review_ui.places import views as places_views
from review_ui.search_views import search_page

app_patterns = (
    [
        path("", views.queue, name="queue"),
        path("home/", views.home, name="home"),
        path("ads/<int:ad_id>/", views.ad_detail, name="ad"),
        path("ads/<int:ad_id>/snapshot/", snapshot_views.snapshot, name="snapshot"),
        path("items/<int:item_id>/claim/", views.claim, name="claim"),
        path("items/<int:item_id>/release/", views.release, name="release"),
        path("items/<int:item_id>/decide/", views.decide, name="decide"),
        path("items/<int:item_id>/reverse/", views.reverse_decision, name="reverse"),
        re_path(r"^export/cases\.(?P<fmt>csv|xlsx)$", views.export_cases, name="export_cases"),
        path("audit/", views.audit_log, name="audit"),
        path("runs/", views.runs, name="runs"),
        path("runs/<int:run_id>/", views.run_detail, name="run"),
        path("audit/export.csv", views.audit_export, name="audit_export"),
        path("work/", views.work, name="work"),
        path("dashboard/", views.dashboard, name="dashboard"),
        path("dashboard/models/", views.model_versions, name="models"),
        path("dashboard/models/promote/", views.promote_model, name="promote_model"),
        path("cases/<int:case_id>/", case_views.case_detail, name="case"),
        path("cases/<int:case_id>/evidence.pdf", case_views.evidence_pdf, name="case_evidence"),
        path("ads/<int:ad_id>/screenshots/<int:shot_id>.png", capture_views.screenshot_image,
             name="screenshot"),
        path("search/", search_page, name="search"),
        path("cases/<int:case_id>/notes/", case_views.add_note, name="case_note"),
        path("batch/<str:kind>/", batch_views.batch_page, name="batch"),
        path("dashboard/terms/", search_terms_views.search_terms, name="search_terms"),
        path("dashboard/townships/", places_views.townships, name="townships"),
        path("digests/", places_views.subscriptions, name="digest_subscriptions"),
        path("digests/<int:subscription_id>/unsubscribe/", places_views.unsubscribe,
             name="digest_unsubscribe"),
    ],
    "review_ui",
)

urlpatterns = [
    path("", include(app_patterns)),
    path("api/v1/", include("review_ui.api.urls")),
    path("intake/", include("review_ui.intake.urls")),
    path("operators/", include("review_ui.operators.urls")),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The language selector is on the login page too (LoginRequiredMiddleware guards the rest).
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    # The admin logs in through the same throttled form; a logged-in user the admin turned
    # away gets a 403 here rather than a login page that would send them back (a loop).
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
]

# A 403 links to a page the user may open (review_ui.auth.home_url).
handler403 = "review_ui.views.permission_denied"
