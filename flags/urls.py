from django.urls import path

from flags import views

urlpatterns = [
    path("flags/get", views.FlagGetView.as_view(), name="flags-get"),
    path("flags/set", views.FlagSetView.as_view(), name="flags-set"),
    path("flags/history", views.FlagHistoryView.as_view(), name="flags-history"),
    path("flags/revert", views.FlagRevertView.as_view(), name="flags-revert"),
    path("flags/evaluate", views.FlagEvaluateView.as_view(), name="flags-evaluate"),
    path("flags/list", views.FlagListView.as_view(), name="flags-list"),
    path("flags/schedule", views.FlagScheduleView.as_view(), name="flags-schedule"),
    path(
        "flags/schedule/<int:schedule_id>/cancel",
        views.FlagScheduleCancelView.as_view(),
        name="flags-schedule-cancel",
    ),
    path("flags/segments", views.SegmentsView.as_view(), name="flags-segments"),
    path("flags/segments/<str:name>", views.SegmentDeleteView.as_view(), name="flags-segment"),
    path("flags/usage", views.FlagUsageView.as_view(), name="flags-usage"),
    path("flags/stale", views.FlagStaleView.as_view(), name="flags-stale"),
]
