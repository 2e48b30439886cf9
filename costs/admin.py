"""Admin: stored cost reports with a trend chart, each report's breakdown, bandwidth rows.

Every amount is shown with its currency (`costs.charts.money`).
"""

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from costs import selectors, services
from costs.charts import money, trend_chart
from costs.models import BandwidthCounter, CostReport
from echopilot.admin import ReadOnlyAdmin
from echopilot.auth import admin_actor

GENERATE_PERMISSION = "costs.add_costreport"
BUDGET_SETTING = "COST_MONTHLY_BUDGET_USD"


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
        return money(obj.total_monthly_usd, obj.currency)

    @admin.display(description="storage", ordering="storage_bytes")
    def storage(self, obj):
        return f"{obj.storage_bytes / 1e9:,.4f} GB · {money(obj.storage_monthly_usd, obj.currency)}"

    @admin.display(description="compute", ordering="compute_monthly_usd")
    def compute(self, obj):
        return f"{obj.compute_hours:,.2f} h · {money(obj.compute_monthly_usd, obj.currency)}"

    @admin.display(description="bandwidth (24 h)", ordering="bandwidth_bytes")
    def bandwidth(self, obj):
        amount = money(obj.bandwidth_monthly_usd, obj.currency)
        return f"{obj.bandwidth_bytes / 1e9:,.4f} GB · {amount}"

    @admin.display(description="budget used")
    def budget(self, obj):
        if obj.budget_usd is None:
            return "—"
        percent = "∞" if obj.percent_used is None else f"{obj.percent_used:.1f}%"
        over = " · OVER" if obj.over_budget else ""
        return f"{percent} of {money(obj.budget_usd, obj.currency)}{over}"

    def has_generate_permission(self, request) -> bool:
        return request.user.has_perm(GENERATE_PERMISSION)

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
        currency = latest.currency if latest else settings.COST_CURRENCY
        budget = services.configured_budget()
        extra = {
            "trend_chart": trend_chart(points, currency=currency, budget=budget),
            "trend_count": len(points),
            "budget": None if budget is None else money(budget, currency),
            "budget_setting": BUDGET_SETTING,
            "currency": currency,
            "can_generate": self.has_view_permission(request)
            and self.has_generate_permission(request),
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
            "amounts": _amounts(report),
            "budget_setting": BUDGET_SETTING,
            "breakdown": report.payload.get("storage", {}).get("breakdown", []),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/costs/costreport/breakdown.html", context)

    def generate_view(self, request):
        """Compute and store a report now (the same service as the API and the command)."""
        if not self.has_generate_permission(request):
            raise PermissionDenied
        report = services.create_report(save=True, actor=admin_actor(request))
        self.message_user(
            request,
            f"Stored cost report {report['report_id']}: "
            f"{money(report['total_monthly_usd'], report['currency'])} a month.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:costs_costreport_changelist"))


def _amounts(report: CostReport) -> dict[str, Any]:
    """Return a report's amounts as text with its currency, and its times, for the breakdown."""
    payload, currency = report.payload, report.currency
    window = payload.get("window") or {}
    trend = []
    for label, point in (payload.get("trend") or {}).items():
        row: dict[str, Any] = {"label": label, "point": point}
        if point:
            change = float(point.get("change_usd") or 0)
            row.update(
                total=money(float(point.get("total_monthly_usd") or 0), currency),
                change=("+" if change > 0 else "") + money(change, currency),
                when=parse_datetime(point.get("ts_iso") or ""),
            )
        trend.append(row)
    return {
        "storage": money(report.storage_monthly_usd, currency),
        "compute": money(report.compute_monthly_usd, currency),
        "bandwidth": money(report.bandwidth_monthly_usd, currency),
        "total": money(report.total_monthly_usd, currency),
        "budget": "" if report.budget_usd is None else money(report.budget_usd, currency),
        "window_start": parse_datetime(window.get("start_iso") or ""),
        "window_end": parse_datetime(window.get("end_iso") or ""),
        "trend": trend,
    }


@admin.register(BandwidthCounter)
class BandwidthCounterAdmin(ReadOnlyAdmin):
    list_display = ("day", "bytes", "responses", "updated_at")
    date_hierarchy = "day"
