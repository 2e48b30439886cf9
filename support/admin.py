"""Admin: the digest history with each digest's items, "Run digest now", and the messages."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from echopilot.admin import ReadOnlyAdmin, reported
from echopilot.auth import admin_actor
from support import selectors
from support.models import Digest, Message
from support.services import DigestCrashed, run_digest

RUN_PERMISSION = "support.run_digest"


@admin.register(Digest)
class DigestAdmin(ReadOnlyAdmin):
    """Digests are written by the digest service only; "Run digest now" calls it."""

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
    change_list_template = "admin/support/digest/change_list.html"
    fields = [
        "created_at",
        "actor",
        "ok",
        "dry_run",
        "error",
        "detail",
        "mailbox",
        "limit",
        "unseen",
        "count",
        "new_count",
        "urgent_count",
        "duration_ms",
        "listed",
    ]
    readonly_fields = fields

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RUN_PERMISSION)

    @admin.display(description="messages listed")
    def listed(self, obj: Digest) -> str:
        """The digest's items in its order; a dry run's samples, marked as such."""
        items = selectors.digest_items(obj)
        return render_to_string("admin/support/digest/items.html", {"items": items, "d": obj})

    def get_urls(self):
        return [
            path(
                "run/",
                self.admin_site.admin_view(require_POST(self.run_view)),
                name="support_digest_run",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_run": self.has_run_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def run_view(self, request: HttpRequest) -> HttpResponseRedirect:
        """Run the digest now (the API's service, actor `admin:<user>`); show the result."""
        if not self.has_run_permission(request):
            raise PermissionDenied
        dry_run = request.POST.get("dry_run") == "1"
        result = None
        with reported(self, request):  # a ServiceError (a bad limit, ...) is shown as is
            try:
                result = run_digest(actor=admin_actor(request), dry_run=dry_run)
            except DigestCrashed as crash:
                self.message_user(request, crash.result.detail, messages.ERROR)
                return self._to_digest(crash.result.digest_id)
        if result is None:
            return self._to_digest(None)
        if not result.ok:
            self.message_user(
                request, f"Digest failed: {result.error}: {result.detail}", messages.ERROR
            )
        else:
            sample = " (dry run: sample messages, not stored)" if result.dry_run else ""
            self.message_user(
                request,
                f"Digest {result.digest_id}: {result.count} messages, {result.new_count} new, "
                f"{result.urgent_count} urgent{sample}.",
                messages.SUCCESS,
            )
        return self._to_digest(result.digest_id)

    def _to_digest(self, digest_id: int | None) -> HttpResponseRedirect:
        if digest_id is None:
            return HttpResponseRedirect(reverse("admin:support_digest_changelist"))
        return HttpResponseRedirect(reverse("admin:support_digest_change", args=[digest_id]))


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
    # Searchable by subject and sender (address or display name).
    search_fields = ["subject", "from_address", "from_name"]
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
