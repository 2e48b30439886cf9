from django.urls import path

from incidents import views

urlpatterns = [
    path("incidents", views.IncidentListView.as_view(), name="incidents-list"),
    path("incidents/scan", views.IncidentScanView.as_view(), name="incidents-scan"),
    path("incidents/<int:pk>", views.IncidentDetailView.as_view(), name="incidents-detail"),
    path("incidents/<int:pk>/notes", views.IncidentNotesView.as_view(), name="incidents-notes"),
    path("incidents/<int:pk>/ack", views.IncidentAcknowledgeView.as_view(), name="incidents-ack"),
    path(
        "incidents/<int:pk>/resolve",
        views.IncidentResolveView.as_view(),
        name="incidents-resolve",
    ),
    path("incidents/silences", views.SilenceView.as_view(), name="incidents-silences"),
    path(
        "incidents/alertmanager",
        views.AlertmanagerReceiverView.as_view(),
        name="incidents-alertmanager",
    ),
]
