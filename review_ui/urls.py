from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from review_ui import views

app_patterns = (
    [
        path("", views.queue, name="queue"),
        path("ads/<int:ad_id>/", views.ad_detail, name="ad"),
        path("ads/<int:ad_id>/snapshot/", views.snapshot, name="snapshot"),
        path("items/<int:item_id>/decide/", views.decide, name="decide"),
        path("audit/", views.audit_log, name="audit"),
        path("runs/", views.runs, name="runs"),
        path("runs/<int:run_id>/", views.run_detail, name="run"),
    ],
    "review_ui",
)

urlpatterns = [
    path("", include(app_patterns)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
