"""Admin: incidents (list, timeline, Acknowledge/Resolve buttons, notes), silences,
received alerts. Every action and button declares the permission it needs and
checks it on POST; changes go through the services as `admin:<user>`."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from echopilot.admin import ReadOnlyAdmin, reported
from echopilot.auth import admin_actor
from echopilot.text import console_date
from incidents import clock, selectors, services
from incidents.messages import duration_text
from incidents.models import Alert, Incident, ReceivedAlert, Silence
from incidents.services import routing

# Characters of the issues column in the list (the full lines are on the incident's page).
ISSUES_SHORT = 90


class AlertInline(admin.TabularInline):
    model = Alert
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "status", "attempts", "delivered_at", "last_error", "text")
    readonly_fields = fields
    ordering = ("created_at", "id")
    verbose_name_plural = "alert messages (each channel's delivery is on the timeline)"

    def has_add_permission(self, request, obj=None):
        return False


def _lines(values, empty="—"):
    if not values:
        return empty
    return format_html_join("\n", "<div>{}</div>", ((v,) for v in values))


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "status_display",
        "severity_display",
        "issues_short",
        "opened_display",
        "alerts_sent",
        "handled_by",
    )
    list_display_links = ("id", "status_display")
    list_filter = ("status", "severity", "flapping")
    date_hierarchy = "opened_at"
    ordering = ("-active", "-opened_at", "-id")
    inlines = [AlertInline]
    actions = ["acknowledge", "resolve"]
    change_form_template = "admin/incidents/incident/change_form.html"
    fields = (
        "status",
        "severity",
        "details_display",
        "issue_keys_display",
        "silenced_keys_display",
        "runbooks_display",
        "opened_at",
        "opened_by",
        "last_seen_at",
        "duration_display",
        "last_alert_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "resolved_display",
        "reopen_count",
        "flapping",
        "notified_display",
    )
    readonly_fields = fields

    class Media:
        css = {"all": ["incidents/admin.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("alerts")

    # --- permissions of the buttons and actions ------------------------------------

    def has_ack_permission(self, request, obj=None):
        return request.user.has_perm("incidents.ack_incident")

    def has_resolve_permission(self, request, obj=None):
        return request.user.has_perm("incidents.resolve_incident")

    def has_note_permission(self, request, obj=None):
        return request.user.has_perm("incidents.add_incidentnote")

    # --- columns and fields ----------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_display(self, obj):
        css = "incident-active" if obj.active else "incident-done"
        more = []
        if obj.reopen_count:
            more.append(f"reopened {obj.reopen_count}×")
        if obj.flapping:
            more.append("flapping")
        return format_html(
            '<span class="{}">{}</span><div class="incident-more">{}</div>',
            css,
            obj.get_status_display(),
            ", ".join(more),
        )

    @admin.display(description="opened", ordering="opened_at")
    def opened_display(self, obj):
        return format_html(
            '{}<div class="incident-more">for {}</div>',
            console_date(obj.opened_at),
            duration_text(obj.duration),
        )

    @admin.display(description="severity", ordering="severity")
    def severity_display(self, obj):
        return format_html('<span class="sev sev-{}">{}</span>', obj.severity.lower(), obj.severity)

    @admin.display(description="issues")
    def issues_short(self, obj):
        text = "; ".join(obj.details)
        if len(text) > ISSUES_SHORT:
            text = text[: ISSUES_SHORT - 1] + "…"
        return f"{text} (+{obj.issue_keys_omitted} keys)" if obj.issue_keys_omitted else text

    @admin.display(description="handled by")
    def handled_by(self, obj):
        parts = []
        if obj.acknowledged_by:
            parts.append(f"ack: {obj.acknowledged_by}")
        if obj.resolved_by:
            parts.append(f"resolved: {obj.resolved_by}")
        return ", ".join(parts) or "—"

    @admin.display(description="details")
    def details_display(self, obj):
        return format_html_join("\n", "<div>• {}</div>", ((d,) for d in obj.details))

    @admin.display(description="issue keys")
    def issue_keys_display(self, obj):
        lines = list(obj.issue_keys)
        if obj.issue_keys_omitted:
            lines.append(f"… and {obj.issue_keys_omitted} more (counted, not listed)")
        return _lines(lines)

    @admin.display(description="silenced keys")
    def silenced_keys_display(self, obj):
        return _lines(obj.silenced_keys, empty="none")

    @admin.display(description="notified channels")
    def notified_display(self, obj):
        return _lines(obj.notified_channels, empty="none")

    @admin.display(description="runbooks")
    def runbooks_display(self, obj):
        books = routing.runbooks(obj.issue_keys)
        if not books:
            return "none configured"
        return format_html_join(
            "\n",
            '<div>{}: <a href="{}" rel="noopener noreferrer">{}</a></div>',
            ((b["pattern"], b["url"], b["url"]) for b in books),
        )

    @admin.display(description="resolved by")
    def resolved_display(self, obj):
        if not obj.resolved_by:
            return "—"
        if obj.resolved_how == "recovered":
            return f"automatically: signals recovered (scan by {obj.resolved_by})"
        return f"{obj.resolved_by} (by hand)"

    @admin.display(description="duration")
    def duration_display(self, obj):
        return duration_text(obj.duration)

    @admin.display(description="alerts sent")
    def alerts_sent(self, obj):
        alerts = list(obj.alerts.all())
        done = sum(a.status == Alert.Status.DELIVERED for a in alerts)
        return f"{done}/{len(alerts)}"

    # --- the incident's page: timeline and buttons -----------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        incident = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if incident is not None:
            active = incident.status != Incident.Status.RESOLVED
            extra.update(
                timeline=selectors.timeline(incident),
                can_ack=incident.status == Incident.Status.OPEN
                and self.has_ack_permission(request),
                can_resolve=active and self.has_resolve_permission(request),
                can_note=self.has_note_permission(request),
                note_max=services.NOTE_MAX,
            )
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/acknowledge/",
                view(self.acknowledge_view),
                name="{}_{}_acknowledge".format(*info),
            ),
            path(
                "<path:object_id>/resolve/",
                view(self.resolve_view),
                name="{}_{}_resolve".format(*info),
            ),
            path("<path:object_id>/note/", view(self.note_view), name="{}_{}_note".format(*info)),
            *super().get_urls(),
        ]

    def _button(self, request, object_id, allowed, operation, done):
        if not allowed:
            raise PermissionDenied
        incident = get_object_or_404(Incident, pk=object_id)
        note = request.POST.get("note", "")
        with reported(self, request):
            result = operation(incident_id=incident.pk, actor=admin_actor(request), note=note)
            verb = done if result.get("changed", True) else f"Already {done.lower()}"
            self.message_user(request, f"{verb}: incident #{incident.pk}.", messages.SUCCESS)
        return self._back(request, incident)

    def _back(self, request, incident):
        target = request.POST.get("next", "")
        if not target or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("admin:incidents_incident_change", args=[incident.pk])
        return HttpResponseRedirect(target)

    @staticmethod
    def _note_op(*, incident_id, actor, note):
        return services.add_note(incident_id=incident_id, actor=actor, text=note)

    def acknowledge_view(self, request, object_id):
        allowed = self.has_ack_permission(request)
        return require_POST(self._button)(
            request, object_id, allowed, services.acknowledge, "Acknowledged"
        )

    def resolve_view(self, request, object_id):
        allowed = self.has_resolve_permission(request)
        return require_POST(self._button)(request, object_id, allowed, services.resolve, "Resolved")

    def note_view(self, request, object_id):
        allowed = self.has_note_permission(request)
        return require_POST(self._button)(request, object_id, allowed, self._note_op, "Noted")

    # --- bulk actions ---------------------------------------------------------------

    def _apply(self, request, queryset, operation, verb):
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            with reported(self, request):  # e.g. "Incident 4 is already resolved."
                result = operation(incident_id=pk, actor=admin_actor(request))
                done += int(result["changed"])
        self.message_user(request, f"{verb} {done} incident(s).", messages.SUCCESS)

    @admin.action(description="Acknowledge selected incidents", permissions=["ack"])
    def acknowledge(self, request, queryset):
        self._apply(request, queryset, services.acknowledge, "Acknowledged")

    @admin.action(description="Resolve selected incidents", permissions=["resolve"])
    def resolve(self, request, queryset):
        self._apply(request, queryset, services.resolve, "Resolved")


class SilenceForm(forms.ModelForm):
    class Meta:
        model = Silence
        fields = ("key", "until", "reason")

    def clean(self):
        # The service's own checks, so a refused silence is an error on the form
        # rather than a failure in SilenceAdmin.save_model.
        cleaned = super().clean()
        key, until = cleaned.get("key"), cleaned.get("until")
        if key is None or until is None:  # already reported by the field
            return cleaned
        try:
            cleaned["key"], cleaned["until"] = services.validate_silence(
                key=key, until=until, now=clock.now()
            )
        except services.SilenceInvalid as exc:
            self.add_error(exc.field, str(exc.detail))
        return cleaned


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    """Silences are created and ended through the service; never edited or deleted
    (a deleted silence would vanish from the incidents' timelines)."""

    form = SilenceForm
    list_display = ("key", "until", "active", "reason", "created_by", "created_at")
    search_fields = ("key", "reason")
    fields = ("key", "until", "reason")
    actions = ["expire"]

    @admin.display(boolean=True)
    def active(self, obj):
        return obj.until > clock.now()

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # end it instead (expire): the service records who and when

    def has_expire_permission(self, request):
        return request.user.has_perm("incidents.change_silence")

    def save_model(self, request, obj, form, change):
        # Through the service, so the actor and the NDJSON line are recorded.
        with reported(self, request):
            result = services.create_silence(
                key=obj.key, until=obj.until, reason=obj.reason, actor=admin_actor(request)
            )
            obj.pk = result["silence"]["id"]

    @admin.action(description="End selected silences now", permissions=["expire"])
    def expire(self, request, queryset):
        ended = 0
        for pk in queryset.values_list("pk", flat=True):
            with reported(self, request):
                services.expire_silence(silence_id=pk, actor=admin_actor(request))
                ended += 1
        self.message_user(request, f"Ended {ended} silence(s).", messages.SUCCESS)


@admin.register(ReceivedAlert)
class ReceivedAlertAdmin(ReadOnlyAdmin):
    list_display = ("name", "fingerprint", "starts_at", "ends_at", "received_at")
    search_fields = ("name", "fingerprint")
    readonly_fields = (
        "fingerprint",
        "name",
        "labels",
        "annotations",
        "starts_at",
        "ends_at",
        "received_at",
    )
