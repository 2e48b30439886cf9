from django.urls import path

from experiments.views import AssignView, LogView, ResultsView

urlpatterns = [
    path("exp/assign", AssignView.as_view(), name="exp-assign"),
    path("exp/log", LogView.as_view(), name="exp-log"),
    path("exp/results", ResultsView.as_view(), name="exp-results"),
]
