"""Admin pages for scheduled changes and segments; every change goes through the services."""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied

from echopilot.admin import reported
from echopilot.auth import admin_actor
from echopilot.exceptions import ServiceError
from echopilot.text import short_json
from flags import scheduling, segments
from flags.admin_forms import PrettyJSONField
from flags.models import FlagSchedule, Segment

CONDITIONS_EXAMPLE = json.dumps(
    [{"attribute": "email", "op": "contains", "value": "@acme.com"}], indent=2
)


class ScheduleForm(forms.ModelForm):
    change = PrettyJSONField(
        rows=4,
        required=True,
        help_text='Any of value, enabled, rules, rollout, e.g. <code>{"value": true}</code>.',
    )

    class Meta:
        model = FlagSchedule
        fields = ["flag", "at", "change", "note"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        flag = cleaned.get("flag")
        try:  # the service's checks and messages, before anything is saved
            scheduling.validate_schedule(
                key=flag.key if flag is not None else "",
                flag=flag,
                at=cleaned.get("at"),
                change=cleaned.get("change"),
                note=cleaned.get("note") or "",
            )
        except ServiceError as exc:
            raise forms.ValidationError(exc.detail) from None
        return cleaned


@admin.register(FlagSchedule)
class FlagScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = ["id", "key", "at", "change_display", "note", "state", "created_by", "error"]
    list_filter = ["state"]
    search_fields = ["key", "note", "created_by"]
    actions = ["cancel_selected"]

    def has_change_permission(self, request, obj=None):
        # A scheduled change is never edited: cancel it and schedule another.
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # cancel instead: the row stays as the record

    @admin.display(description="change")
    def change_display(self, obj):
        return short_json(obj.change)

    def save_model(self, request, obj, form, change):
        if not self.has_add_permission(request):
            raise PermissionDenied
        data = form.cleaned_data
        row = scheduling.schedule_create(
            key=data["flag"].key,
            at=data["at"],
            change=data["change"],
            note=data.get("note") or "",
            actor=admin_actor(request),
        )
        obj.pk = row["id"]
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass

    @admin.action(description="Cancel selected pending changes", permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        cancelled = 0
        for schedule in queryset:
            with reported(self, request):
                scheduling.schedule_cancel(schedule_id=schedule.pk, actor=admin_actor(request))
                cancelled += 1
        self.message_user(request, f"{cancelled} scheduled change(s) cancelled.")

    def has_cancel_permission(self, request):
        return request.user.has_perm("flags.change_flagschedule")


class SegmentForm(forms.ModelForm):
    conditions = PrettyJSONField(
        rows=8,
        required=True,
        help_text=f"All must hold. Worked example:<pre>{CONDITIONS_EXAMPLE}</pre>",
    )

    class Meta:
        model = Segment
        fields = ["name", "conditions", "description"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        name = self.instance.name if self.instance.pk else cleaned.get("name")
        try:
            segments.validate_segment(
                name=name,
                conditions=cleaned.get("conditions"),
                description=cleaned.get("description") or "",
            )
        except ServiceError as exc:
            raise forms.ValidationError(exc.detail) from None
        return cleaned


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ["name", "conditions_display", "description", "updated_by", "updated_at"]
    search_fields = ["name", "description"]
    actions = ["delete_unused"]

    def get_readonly_fields(self, request, obj=None):
        return ["name"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False  # through the action: a segment in use is never deleted

    @admin.display(description="conditions")
    def conditions_display(self, obj):
        return short_json(obj.conditions, 100)

    def save_model(self, request, obj, form, change):
        if not (
            self.has_change_permission(request, obj) if change else self.has_add_permission(request)
        ):
            raise PermissionDenied
        data = form.cleaned_data
        name = obj.name if change else data["name"]
        segments.segment_set(
            name=name,
            conditions=data["conditions"],
            description=data.get("description") or "",
            actor=admin_actor(request),
        )
        saved = Segment.objects.get(name=name)
        obj.pk = saved.pk
        obj.__dict__.update({f.attname: getattr(saved, f.attname) for f in Segment._meta.fields})

    def save_related(self, request, form, formsets, change):
        pass

    @admin.action(
        description="Delete selected segments (only those no rule uses)", permissions=["remove"]
    )
    def delete_unused(self, request, queryset):
        for segment in queryset:
            with reported(self, request):
                segments.segment_delete(name=segment.name, actor=admin_actor(request))
                self.message_user(request, f"Deleted segment {segment.name}.")

    def has_remove_permission(self, request):
        return request.user.has_perm("flags.delete_segment")
