"""URLs of the operator pages, mounted at ``/operators/`` (namespace ``operators``)."""

from django.urls import path

from review_ui.operators import views

app_name = "operators"
urlpatterns = [
    path("<int:operator_id>/", views.operator_page, name="operator"),
    path("<int:operator_id>/split/", views.split_operator, name="split"),
]
