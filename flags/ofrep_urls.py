from django.urls import path

from flags import ofrep

urlpatterns = [
    path("v1/evaluate/flags/<str:key>", ofrep.OfrepEvaluateView.as_view(), name="ofrep-evaluate"),
    path("v1/evaluate/flags", ofrep.OfrepBulkView.as_view(), name="ofrep-bulk"),
]
