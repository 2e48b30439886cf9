from django.urls import path

from experiments.views import AssignView, LogView, PlanView, ResultsView, TimeseriesView

urlpatterns = [
    path("exp/assign", AssignView.as_view(), name="exp-assign"),
    path("exp/log", LogView.as_view(), name="exp-log"),
    path("exp/results", ResultsView.as_view(), name="exp-results"),
    path("exp/plan", PlanView.as_view(), name="exp-plan"),
    path("exp/timeseries", TimeseriesView.as_view(), name="exp-timeseries"),
]
