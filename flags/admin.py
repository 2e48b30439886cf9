"""Admin pages for flags. Every change goes through `flags.services` as `admin:<user>`."""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString

from echopilot.admin import ReadOnlyAdmin, reported
from echopilot.auth import admin_actor
from echopilot.exceptions import ServiceError
from flags import services
from flags.limits import HISTORY_ON_PAGE
from flags.models import Flag, FlagChange


def short_json(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Redirect to the page the button was on (same host only), else `fallback`."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(referer)
    return HttpResponseRedirect(reverse(fallback))


def post_button(url: str, label: str, title: str = "") -> SafeString:
    # A submit button of the surrounding admin form (changelist or change form),
    # redirected to our POST-only view: one click, with the form's CSRF token.
    return format_html(
        '<button type="submit" class="button" formaction="{}" formmethod="post" '
        'formnovalidate title="{}">{}</button>',
        url,
        title,
        label,
    )


class FlagAdminForm(forms.ModelForm):
    class Meta:
        model = Flag
        fields = ["key", "type", "value", "description", "rules", "rollout", "enabled", "archived"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        existing = Flag.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        key = existing.key if existing else cleaned.get("key", "")
        try:
            services.validate_flag(
                key=key,
                flag=existing,
                value=cleaned.get("value"),
                type_=cleaned.get("type"),
                retype=True,
                description=cleaned.get("description") or "",
                rules=cleaned.get("rules") or [],
                rollout=cleaned.get("rollout"),
                enabled=cleaned.get("enabled"),
                archived=cleaned.get("archived"),
            )
        except ServiceError as exc:
            raise forms.ValidationError(exc.detail) from None
        return cleaned


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
        "toggle_button",
    ]
    list_filter = ["type", "enabled", "archived"]
    search_fields = ["key", "description"]
    actions = ["archive_selected", "unarchive_selected", "disable_selected", "enable_selected"]
    readonly_fields = ["updated_by", "updated_at", "created_at", "history"]

    def get_list_display(self, request):
        fields = list(super().get_list_display(request))
        # The flip button posts a change: shown only to who may make it.
        if self.has_change_permission(request):
            return fields
        return [f for f in fields if f != "toggle_button"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + ["key"] if obj is not None else fields

    def get_fields(self, request, obj=None):
        fields = ["key", "type", "value", "description", "rules", "rollout", "enabled", "archived"]
        if obj is not None:
            fields += ["updated_by", "updated_at", "created_at", "history"]
        return fields

    def has_delete_permission(self, request, obj=None):
        return False  # archive instead: history stays complete

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
            obj.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        )

    @admin.display(description="flip")
    def toggle_button(self, obj):
        if obj.type != "boolean":
            return ""
        url = reverse("admin:flags_flag_toggle", args=[obj.pk])
        return post_button(
            url, "Turn off" if obj.value else "Turn on", f"Set value to {not obj.value}"
        )

    @admin.display(description="history (newest first)")
    def history(self, obj):
        rows = FlagChange.objects.filter(flag=obj).order_by("-id")[:HISTORY_ON_PAGE]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    row.pk,
                    row.ts.strftime("%Y-%m-%d %H:%M:%S"),
                    row.field,
                    short_json(row.old, 80),
                    short_json(row.new, 80),
                    row.actor,
                    post_button(
                        reverse("admin:flags_flagchange_revert", args=[row.pk]),
                        "Revert",
                        f"Undo change {row.pk}",
                    ),
                )
                for row in rows
            ),
        )
        full = reverse("admin:flags_flagchange_changelist") + f"?key={obj.key}"
        return format_html(
            "<table><thead><tr><th>#</th><th>when (UTC)</th><th>field</th><th>old</th>"
            "<th>new</th><th>who</th><th></th></tr></thead><tbody>{}</tbody></table>"
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
            )
        ]
        return extra + super().get_urls()

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
        data = form.cleaned_data
        original = Flag.objects.get(pk=obj.pk) if change else None
        fields = {
            "value": data["value"],
            "description": data.get("description") or "",
            "rules": data.get("rules") or [],
            "rollout": data.get("rollout"),
            "enabled": data["enabled"],
            "archived": data["archived"],
        }
        key = original.key if original else data["key"]
        services.flag_set(
            key=key,
            actor=admin_actor(request),
            create=not change,
            type=data["type"],
            retype=change,
            **fields,
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

    @admin.display(description="revert")
    def revert_button(self, obj):
        url = reverse("admin:flags_flagchange_revert", args=[obj.pk])
        return post_button(url, "Revert", f"Undo change {obj.pk}")

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
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("flags.change_flag"):
            raise PermissionDenied
        try:
            change_id = int(object_id)
        except ValueError:
            change_id = 0
        self._revert(request, change_id)
        return back(request, "admin:flags_flagchange_changelist")

    @admin.action(description="Revert selected changes", permissions=["revert"])
    def revert_selected(self, request, queryset):
        for change in queryset.order_by("-id"):
            self._revert(request, change.pk)

    def has_revert_permission(self, request):
        return request.user.has_perm("flags.change_flag")
