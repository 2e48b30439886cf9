from django.urls import path

from flags import views

urlpatterns = [
    path("flags/get", views.FlagGetView.as_view(), name="flags-get"),
    path("flags/set", views.FlagSetView.as_view(), name="flags-set"),
    path("flags/history", views.FlagHistoryView.as_view(), name="flags-history"),
    path("flags/revert", views.FlagRevertView.as_view(), name="flags-revert"),
    path("flags/evaluate", views.FlagEvaluateView.as_view(), name="flags-evaluate"),
    path("flags/list", views.FlagListView.as_view(), name="flags-list"),
]
