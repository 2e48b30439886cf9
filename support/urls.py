from django.urls import path

from support.views import SupportDigestView

urlpatterns = [
    path("support/digest", SupportDigestView.as_view(), name="support-digest"),
]
