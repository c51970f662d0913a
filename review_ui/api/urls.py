"""URLs of the API, mounted at ``/api/v1/`` (namespace ``api``)."""

from django.urls import path

from review_ui.api import views
from review_ui.api.submissions import SubmissionCreate

app_name = "api"
urlpatterns = [
    path("items/", views.ItemList.as_view(), name="items"),
    path("items/<int:pk>/claim/", views.ItemClaim.as_view(), name="item_claim"),
    path("items/<int:pk>/release/", views.ItemRelease.as_view(), name="item_release"),
    path("items/<int:pk>/decision/", views.ItemDecision.as_view(), name="item_decision"),
    path("ads/", views.AdList.as_view(), name="ads"),
    path("ads/<int:pk>/", views.AdDetail.as_view(), name="ad"),
    path("submissions/", SubmissionCreate.as_view(), name="submissions"),
    path("schema/", views.Schema.as_view(), name="schema"),
    path("items/<int:pk>/", views.ItemDetail.as_view(), name="item"),
    path("ads/<int:pk>/screenshots/<int:shot>.png", views.AdScreenshot.as_view(),
         name="ad_screenshot"),
]
