"""URLs of the intake pages, mounted at ``/intake/`` (namespace ``intake``)."""

from django.urls import path

from review_ui.intake import views

app_name = "intake"
urlpatterns = [
    path("submit/", views.submit_ad, name="submit"),
    path("images/<int:image_id>/", views.submission_image, name="image"),
    path("leads/", views.lead_list, name="leads"),
    path("leads/new/", views.lead_new, name="lead_new"),
    path("leads/import/", views.lead_import, name="lead_import"),
    path("leads/<int:lead_id>/", views.lead_detail, name="lead"),
    path("leads/<int:lead_id>/case/", views.lead_case, name="lead_case"),
]
