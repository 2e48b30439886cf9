"""Admin: incidents (acknowledge/resolve actions, alerts sent), silences, received alerts."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html_join

from echopilot.admin import ReadOnlyAdmin, reported
from echopilot.auth import admin_actor
from incidents import clock, services
from incidents.messages import duration_text
from incidents.models import Alert, Incident, ReceivedAlert, Silence


class AlertInline(admin.TabularInline):
    model = Alert
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "status", "attempts", "delivered_at", "last_error", "text")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "status",
        "severity",
        "issue_count",
        "opened_at",
        "last_seen_at",
        "duration_display",
        "alerts_sent",
        "acknowledged_by",
        "resolved_by",
    )
    list_filter = ("status", "severity")
    date_hierarchy = "opened_at"
    inlines = [AlertInline]
    actions = ["acknowledge", "resolve"]
    fields = (
        "status",
        "severity",
        "details_display",
        "issue_keys",
        "silenced_keys",
        "alerted_keys",
        "opened_at",
        "opened_by",
        "last_seen_at",
        "duration_display",
        "last_alert_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "resolved_by",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("alerts")

    @admin.display(description="issues")
    def issue_count(self, obj):
        return len(obj.details)

    @admin.display(description="details")
    def details_display(self, obj):
        return format_html_join("\n", "<div>• {}</div>", ((d,) for d in obj.details))

    @admin.display(description="duration")
    def duration_display(self, obj):
        return duration_text(obj.duration)

    @admin.display(description="alerts (delivered/all)")
    def alerts_sent(self, obj):
        alerts = list(obj.alerts.all())
        done = sum(a.status == Alert.Status.DELIVERED for a in alerts)
        return f"{done}/{len(alerts)}"

    def _apply(self, request, queryset, operation, verb):
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            with reported(self, request):  # e.g. "Incident 4 is already resolved."
                result = operation(incident_id=pk, actor=admin_actor(request))
                done += int(result["changed"])
        self.message_user(request, f"{verb} {done} incident(s).", messages.SUCCESS)

    @admin.action(description="Acknowledge selected incidents")
    def acknowledge(self, request, queryset):
        self._apply(request, queryset, services.acknowledge, "Acknowledged")

    @admin.action(description="Resolve selected incidents")
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

    def save_model(self, request, obj, form, change):
        # Through the service, so the actor and the NDJSON line are recorded.
        with reported(self, request):
            result = services.create_silence(
                key=obj.key, until=obj.until, reason=obj.reason, actor=admin_actor(request)
            )
            obj.pk = result["silence"]["id"]

    @admin.action(description="End selected silences now")
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
