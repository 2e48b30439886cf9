"""Admin: stored cost reports with a trend chart, each report's breakdown, bandwidth rows."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from costs import selectors, services
from costs.charts import trend_chart
from costs.models import BandwidthCounter, CostReport
from echopilot.admin import ReadOnlyAdmin
from echopilot.auth import admin_actor


@admin.register(CostReport)
class CostReportAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "total",
        "storage",
        "compute",
        "bandwidth",
        "budget",
        "actor",
    )
    list_filter = ("over_budget", "actor")
    date_hierarchy = "created_at"
    list_per_page = 50
    change_list_template = "admin/costs/costreport/change_list.html"

    @admin.display(description="total / month", ordering="total_monthly_usd")
    def total(self, obj):
        return f"{obj.total_monthly_usd:,.4f} {obj.currency}"

    @admin.display(description="storage", ordering="storage_bytes")
    def storage(self, obj):
        return f"{obj.storage_bytes / 1e9:,.4f} GB · {obj.storage_monthly_usd:,.4f}"

    @admin.display(description="compute", ordering="compute_monthly_usd")
    def compute(self, obj):
        return f"{obj.compute_hours:,.2f} h · {obj.compute_monthly_usd:,.4f}"

    @admin.display(description="bandwidth (24 h)", ordering="bandwidth_bytes")
    def bandwidth(self, obj):
        return f"{obj.bandwidth_bytes / 1e9:,.4f} GB · {obj.bandwidth_monthly_usd:,.4f}"

    @admin.display(description="budget used")
    def budget(self, obj):
        if obj.budget_usd is None:
            return "—"
        percent = "∞" if obj.percent_used is None else f"{obj.percent_used:.1f}%"
        return f"{percent} of {obj.budget_usd:,.2f}" + (" · OVER" if obj.over_budget else "")

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path(
                "generate/",
                self.admin_site.admin_view(require_POST(self.generate_view)),
                name=f"{info[0]}_{info[1]}_generate",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        points = selectors.trend_points()
        latest = CostReport.objects.order_by("-created_at", "-id").first()
        extra = {
            "trend_chart": trend_chart(
                points,
                currency=latest.currency if latest else settings.COST_CURRENCY,
                budget=services.configured_budget(),
            ),
            "trend_count": len(points),
            "can_generate": self.has_view_permission(request)
            and request.user.has_perm("costs.add_costreport"),
        }
        extra.update(extra_context or {})
        return super().changelist_view(request, extra_context=extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show a report's breakdown instead of a form: reports are never edited."""
        report = CostReport.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if report is None:
            raise Http404("No such cost report.")
        if not self.has_view_permission(request, report):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Cost report {report.pk}",
            "report": report,
            "payload": report.payload,
            "breakdown": report.payload.get("storage", {}).get("breakdown", []),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/costs/costreport/breakdown.html", context)

    def generate_view(self, request):
        """Compute and store a report now (the same service as the API and the command)."""
        if not request.user.has_perm("costs.add_costreport"):
            raise PermissionDenied
        report = services.create_report(save=True, actor=admin_actor(request))
        self.message_user(
            request,
            f"Stored cost report {report['report_id']}: "
            f"{report['total_monthly_usd']} {report['currency']} a month.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:costs_costreport_changelist"))


@admin.register(BandwidthCounter)
class BandwidthCounterAdmin(ReadOnlyAdmin):
    list_display = ("day", "bytes", "responses", "updated_at")
    date_hierarchy = "day"
