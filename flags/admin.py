"""Admin pages for flags. Every change goes through `flags.services` as `admin:<user>`."""

import datetime as dt
import json
import threading

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery, Sum
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from echopilot.admin import ReadOnlyAdmin, reported
from echopilot.auth import admin_actor
from echopilot.text import console_date, short_json
from flags import reports, services
from flags.admin_forms import FlagAdminForm, back, post_button, revert_link, try_message
from flags.limits import (
    HISTORY_ON_PAGE,
    REVERT_SELECTED_MAX,
    STALE_STATIC_DEFAULT,
    STALE_UNUSED_DEFAULT,
)
from flags.models import Flag, FlagChange, FlagUsage

# Per-request state of the flag list (the stale report), per thread.
_page = threading.local()


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    form = FlagAdminForm
    list_display = [
        "key",
        "value_display",
        "type",
        "enabled",
        "archived",
        "targeting",
        "last_change",
        "last_evaluated",
        "evaluations_7d",
        "stale",
        "toggle_button",
    ]
    list_filter = ["type", "enabled", "archived"]
    search_fields = ["key", "description"]
    actions = ["archive_selected", "unarchive_selected", "disable_selected", "enable_selected"]
    readonly_fields = ["updated_by", "updated_at", "created_at", "history", "try_it"]

    def get_list_display(self, request):
        fields = list(super().get_list_display(request))
        # The flip button posts a change: shown only to who may make it.
        if self.has_change_permission(request):
            return fields
        return [f for f in fields if f != "toggle_button"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # The type of an existing flag changes with `retype` (API, command), not here.
        return fields + ["key", "type"] if obj is not None else fields

    def get_fields(self, request, obj=None):
        fields = list(FlagAdminForm.Meta.fields)
        if obj is not None:
            if self.has_change_permission(request, obj):
                fields.append("try_it")
            fields += ["updated_by", "updated_at", "created_at", "history"]
        return fields

    def has_delete_permission(self, request, obj=None):
        return False  # archive instead: history stays complete

    def get_queryset(self, request):
        since = timezone.now() - dt.timedelta(days=7)
        usage = FlagUsage.objects.filter(key=OuterRef("key"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_evaluated_at=Subquery(usage.order_by("-last_at").values("last_at")[:1]),
                evaluations_7d_count=Subquery(
                    usage.filter(hour__gte=since)
                    .values("key")
                    .annotate(n=Sum("count"))
                    .values("n")[:1]
                ),
            )
        )

    def changelist_view(self, request, extra_context=None):
        # Stale flags are marked in the list: one report per page view, a few queries.
        _page.stale = {
            row["key"]: row["reason"]
            for row in reports.stale_flags(
                unused_days=STALE_UNUSED_DEFAULT, static_days=STALE_STATIC_DEFAULT
            )
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="last evaluated", ordering="last_evaluated_at")
    def last_evaluated(self, obj):
        when = getattr(obj, "last_evaluated_at", None)
        return console_date(when) if when else "never"

    @admin.display(description="7 days", ordering="evaluations_7d_count")
    def evaluations_7d(self, obj):
        return getattr(obj, "evaluations_7d_count", None) or 0

    @admin.display(description="stale")
    def stale(self, obj):
        reason = getattr(_page, "stale", {}).get(obj.key)
        if not reason:
            return ""
        title = {
            "unused": f"not evaluated for {STALE_UNUSED_DEFAULT} days",
            "static": f"one value to everyone for {STALE_STATIC_DEFAULT} days",
        }[reason]
        return format_html('<strong title="{}">stale: {}</strong>', title, reason)

    @admin.display(description="value")
    def value_display(self, obj):
        return short_json(obj.value)

    @admin.display(description="targeting")
    def targeting(self, obj):
        parts = []
        if obj.rules:
            names = ", ".join(r.get("name", "?") for r in obj.rules[:3])
            parts.append(f"{len(obj.rules)} rule(s): {names}")
        if obj.rollout:
            parts.append(
                f"rollout {obj.rollout['percentage']}% → {short_json(obj.rollout['value'], 20)}"
            )
        return "; ".join(parts) or "—"

    @admin.display(description="last change", ordering="updated_at")
    def last_change(self, obj):
        return format_html(
            "{}<br><small>{}</small>",
            obj.updated_by or "—",
            console_date(obj.updated_at),
        )

    @admin.display(description="flip")
    def toggle_button(self, obj):
        if obj.type != "boolean":
            return ""
        url = reverse("admin:flags_flag_toggle", args=[obj.pk])
        return post_button(
            url, "Turn off" if obj.value else "Turn on", f"Set value to {not obj.value}"
        )

    @admin.display(description="try it")
    def try_it(self, obj):
        # Fields of the change form, posted by the button to the try view (change_flag).
        return format_html(
            '<textarea name="try_context" rows="3" cols="60" placeholder="{}"></textarea><br>{}'
            '<p class="help">A context as JSON; shows the value, variant and reason the API\'s '
            "evaluate gives.</p>",
            '{"targetingKey": "user-1", "country": "DE"}',
            post_button(reverse("admin:flags_flag_try", args=[obj.pk]), "Evaluate"),
        )

    @admin.display(description="history (newest first)")
    def history(self, obj):
        rows = FlagChange.objects.filter(flag=obj).order_by("-id")[:HISTORY_ON_PAGE]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td>"
            "<td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row.pk,
                    console_date(row.ts),
                    row.field,
                    short_json(row.old, 80),
                    short_json(row.new, 80),
                    row.actor,
                    f"reverts: {row.revert_of_id}" if row.revert_of_id else "",
                    revert_link(row.pk),
                )
                for row in rows
            ),
        )
        full = reverse("admin:flags_flagchange_changelist") + f"?key={obj.key}"
        return format_html(
            "<table><thead><tr><th>#</th><th>when</th><th>field</th><th>old</th>"
            "<th>new</th><th>who</th><th></th><th></th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">All changes of this flag</a></p>',
            body,
            full,
        )

    def get_urls(self):
        extra = [
            path(
                "<path:object_id>/toggle/",
                self.admin_site.admin_view(self.toggle_view),
                name="flags_flag_toggle",
            ),
            path(
                "<path:object_id>/try/",
                self.admin_site.admin_view(self.try_view),
                name="flags_flag_try",
            ),
        ]
        return extra + super().get_urls()

    def history_view(self, request, object_id, extra_context=None):
        """The object-history button: this flag's own change history (not Django's log)."""
        flag = self.get_object(request, object_id)
        if flag is None or not self.has_view_or_change_permission(request, flag):
            raise PermissionDenied
        return HttpResponseRedirect(
            reverse("admin:flags_flagchange_changelist") + "?" + urlencode({"key": flag.key})
        )

    def try_view(self, request, object_id):
        """Evaluate the flag for a typed context (POST, change_flag): the API's evaluate()."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        flag = self.get_object(request, object_id)
        if flag is None or not self.has_change_permission(request, flag):
            raise PermissionDenied
        self.message_user(request, try_message(flag.key, request.POST.get("try_context", "")))
        return HttpResponseRedirect(reverse("admin:flags_flag_change", args=[flag.pk]))

    def toggle_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        flag = self.get_object(request, object_id)
        if flag is None or not self.has_change_permission(request, flag):
            raise PermissionDenied
        if flag.type != "boolean":
            self.message_user(request, f"{flag.key} is not a boolean flag.", messages.ERROR)
            return back(request, "admin:flags_flag_changelist")
        with reported(self, request):
            result = services.flag_set(
                key=flag.key, actor=admin_actor(request), value=not flag.value
            )
            self.message_user(request, f"{flag.key} is now {json.dumps(result.value)}.")
        return back(request, "admin:flags_flag_changelist")

    def save_model(self, request, obj, form, change):
        # The key, type and fields the form's clean() validated (one read of the flag).
        key = form.flag_key
        services.flag_set(
            key=key,
            actor=admin_actor(request),
            create=not change,
            type=form.flag_type,
            **form.flag_fields,
        )
        saved = Flag.objects.get(key=key)
        obj.pk = saved.pk
        obj.__dict__.update(
            {f.attname: getattr(saved, f.attname) for f in Flag._meta.concrete_fields}
        )

    def save_related(self, request, form, formsets, change):
        pass  # no relations are edited here; history is written by the service

    def _bulk(self, request, queryset, **fields):
        changed = 0
        for flag in queryset:
            # One flag that cannot change is reported; the others still change.
            with reported(self, request):
                result = services.flag_set(key=flag.key, actor=admin_actor(request), **fields)
                changed += bool(result.changes)
        self.message_user(request, f"{changed} flag(s) changed.")

    @admin.action(description="Archive selected flags", permissions=["change"])
    def archive_selected(self, request, queryset):
        self._bulk(request, queryset, archived=True)

    @admin.action(description="Unarchive selected flags", permissions=["change"])
    def unarchive_selected(self, request, queryset):
        self._bulk(request, queryset, archived=False)

    @admin.action(
        description="Disable selected flags (kill switch: everyone gets the value)",
        permissions=["change"],
    )
    def disable_selected(self, request, queryset):
        self._bulk(request, queryset, enabled=False)

    @admin.action(
        description="Enable selected flags (rules and rollout apply)", permissions=["change"]
    )
    def enable_selected(self, request, queryset):
        self._bulk(request, queryset, enabled=True)


@admin.register(FlagChange)
class FlagChangeAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "key",
        "field",
        "old_display",
        "new_display",
        "actor",
        "source",
        "ts",
        "reverts",
        "revert_button",
    ]
    list_filter = ["field", "source"]
    search_fields = ["key", "actor"]
    date_hierarchy = "ts"
    actions = ["revert_selected"]

    def get_list_display(self, request):
        fields = list(super().get_list_display(request))
        if self.has_revert_permission(request):
            return fields
        return [f for f in fields if f != "revert_button"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        key = request.GET.get("key")
        return qs.filter(key=key) if key else qs

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "key" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="old")
    def old_display(self, obj):
        return short_json(obj.old)

    @admin.display(description="new")
    def new_display(self, obj):
        return short_json(obj.new)

    @admin.display(description="reverts", ordering="revert_of")
    def reverts(self, obj):
        return f"reverts: {obj.revert_of_id}" if obj.revert_of_id else ""

    @admin.display(description="revert")
    def revert_button(self, obj):
        return revert_link(obj.pk)

    def get_urls(self):
        extra = [
            path(
                "<path:object_id>/revert/",
                self.admin_site.admin_view(self.revert_view),
                name="flags_flagchange_revert",
            )
        ]
        return extra + super().get_urls()

    def _revert(self, request: HttpRequest, change_id: int) -> None:
        with reported(self, request):
            result = services.flag_revert(change_id=change_id, actor=admin_actor(request))
            self._report_revert(request, change_id, result)

    def _report_revert(
        self, request: HttpRequest, change_id: int, result: services.SetResult
    ) -> None:
        if result.changes:
            self.message_user(request, f"Reverted change {change_id} of {result.key}.")
        else:
            self.message_user(
                request,
                f"{result.key} already matches change {change_id}'s old value.",
                messages.WARNING,
            )

    def revert_view(self, request, object_id):
        """GET: the change a revert undoes (old -> new) and a confirm button; POST: revert."""
        if not self.has_revert_permission(request):
            raise PermissionDenied
        try:
            change_id = int(object_id)
        except ValueError:
            change_id = 0
        row = FlagChange.objects.filter(pk=change_id).first()
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            self._revert(request, change_id)
            if row is not None and row.flag_id is not None:
                return HttpResponseRedirect(reverse("admin:flags_flag_change", args=[row.flag_id]))
            return HttpResponseRedirect(reverse("admin:flags_flagchange_changelist"))
        if row is None:
            self.message_user(request, f"No history row {change_id}.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:flags_flagchange_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Revert change {row.pk} of {row.key}?",
            **shown_change(row),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/flags/revert_confirm.html", context)

    @admin.action(description="Revert selected changes…", permissions=["revert"])
    def revert_selected(self, request, queryset):
        """Ask first on a page showing each change it undoes (old -> new); revert on confirm.

        One row goes to its own revert page; several are listed on one page whose
        form posts this action again with `confirm=yes`. Newest first, so two
        reverts of one field leave the older change's old value.
        """
        if not self.has_revert_permission(request):
            raise PermissionDenied
        rows = list(queryset.order_by("-id")[: REVERT_SELECTED_MAX + 1])
        if len(rows) > REVERT_SELECTED_MAX:
            self.message_user(
                request,
                f"Select at most {REVERT_SELECTED_MAX} changes to revert at once.",
                messages.ERROR,
            )
            return None
        if request.POST.get("confirm") == "yes":
            for change in rows:
                self._revert(request, change.pk)
            return None
        if len(rows) == 1:
            return HttpResponseRedirect(reverse("admin:flags_flagchange_revert", args=[rows[0].pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Revert {len(rows)} changes?",
            "rows": [shown_change(row) for row in rows],
            "action": "revert_selected",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/flags/revert_selected_confirm.html", context)

    def has_revert_permission(self, request):
        return request.user.has_perm("flags.change_flag")


def shown_change(row: FlagChange) -> dict:
    """A history row as a revert confirmation shows it: the row, old and new as JSON."""
    return {
        "row": row,
        "old": json.dumps(row.old, indent=2, ensure_ascii=False),
        "new": json.dumps(row.new, indent=2, ensure_ascii=False),
    }


from flags import admin_lifecycle  # noqa: E402, F401 - schedules and segments
