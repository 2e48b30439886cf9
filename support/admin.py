"""Read-only admin pages: the digest history and the messages it listed."""

from django.contrib import admin

from echopilot.admin import ReadOnlyAdmin
from support.models import Digest, DigestItem, Message


class DigestItemInline(admin.TabularInline):
    model = DigestItem
    fields = ("position", "message", "uid", "new", "urgent")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Digest)
class DigestAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "ok",
        "dry_run",
        "error",
        "count",
        "new_count",
        "urgent_count",
        "unseen",
        "actor",
        "duration_ms",
    ]
    list_filter = ["ok", "dry_run", "error", "created_at"]
    search_fields = ["detail", "actor"]
    date_hierarchy = "created_at"
    inlines = [DigestItemInline]


class NewFilter(admin.SimpleListFilter):
    """Messages first listed by the latest successful real digest."""

    title = "new"
    parameter_name = "new"

    def lookups(self, request, model_admin):
        return [("yes", "New in the latest digest"), ("no", "Listed before")]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        latest = (
            Digest.objects.filter(ok=True, dry_run=False).order_by("-created_at", "-id").first()
        )
        latest_id = latest.pk if latest else None
        if self.value() == "yes":
            return queryset.filter(first_digest_id=latest_id)
        return queryset.exclude(first_digest_id=latest_id) if latest_id else queryset


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = [
        "subject",
        "from_address",
        "from_name",
        "date",
        "urgent",
        "first_seen",
        "last_seen",
        "seen_count",
    ]
    list_filter = ["urgent", NewFilter, "date", "first_seen"]
    search_fields = ["from_address", "from_name", "subject"]
    exclude = ["digests"]
    readonly_fields = [
        "key",
        "message_id",
        "synthetic",
        "from_address",
        "from_name",
        "subject",
        "date",
        "urgent",
        "first_seen",
        "last_seen",
        "seen_count",
        "first_digest",
    ]
