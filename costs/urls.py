from django.urls import path

from costs.views import CostHistoryView, CostReportView

urlpatterns = [
    path("costs/report", CostReportView.as_view(), name="costs-report"),
    path("costs/history", CostHistoryView.as_view(), name="costs-history"),
]
