"""Admin building blocks the apps share."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib import admin, messages
from django.http import HttpRequest

from echopilot.exceptions import ServiceError


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the app's services; the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@contextmanager
def reported(model_admin: admin.ModelAdmin, request: HttpRequest) -> Iterator[None]:
    """Show a `ServiceError` raised inside the block as an admin error message."""
    try:
        yield
    except ServiceError as exc:
        model_admin.message_user(request, exc.detail, level=messages.ERROR)
