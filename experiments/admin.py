"""Admin: experiments with exposures per variant, results with the verdict and charts, actions."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse

from echopilot.admin import reported
from echopilot.auth import admin_actor
from echopilot.exceptions import ServiceError
from experiments import charts, selectors, services, timeseries
from experiments.models import Experiment, Status
from experiments.verdict import chance


class ExperimentForm(forms.ModelForm):
    """Validate a definition with the same rules as the config file."""

    class Meta:
        model = Experiment
        fields = [
            "key",
            "description",
            "variants",
            "weights",
            "salt",
            "analysis",
            "planned_users",
            "metrics",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("salt", "weights", "description", "metrics", "analysis", "planned_users"):
            if name in self.fields:
                self.fields[name].required = False

    def clean(self):
        data = super().clean()
        key = data.get("key") or (self.instance.key if self.instance.pk else None)
        if key is None or self.errors:
            return data
        raw = {
            "variants": data.get("variants", self.instance.variants),
            "weights": data.get("weights", self.instance.weights) or None,
            "salt": data.get("salt", self.instance.salt) or None,
            "description": data.get("description", self.instance.description) or "",
            "analysis": data.get("analysis", self.instance.analysis) or None,
            "planned_users": data.get("planned_users", self.instance.planned_users),
            "metrics": data.get("metrics", self.instance.metrics) or None,
        }
        try:
            self.definition = services.parse_definition(key, raw)
            services.check_salt_free(self.definition.salt, key)
        except services.ConfigError as exc:
            raise forms.ValidationError(str(exc)) from None
        except ServiceError as exc:
            raise forms.ValidationError(exc.detail) from None
        return data


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    form = ExperimentForm
    list_display = [
        "key",
        "status",
        "analysis",
        "winner",
        "arms",
        "exposures",
        "per_variant",
        "updated_at",
        "updated_by",
    ]
    list_filter = ["status"]
    search_fields = ["key", "description"]
    actions = ["pause", "resume", "stop"]
    change_form_template = "admin/experiments/experiment/change_form.html"

    def get_queryset(self, request):
        return selectors.list_experiments()

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if cl is not None:
            # The list's per-variant exposures: one grouped read for the whole page
            # (the page's rows are read here, and the template shows the same rows).
            page = list(cl.result_list)
            exposed = selectors.exposures_by_experiment(page)
            for exp in page:
                exp.exposed_per_variant = exposed[exp.pk]
        return response

    @admin.display(description="exposures per variant")
    def per_variant(self, obj):
        counts = getattr(obj, "exposed_per_variant", None)
        if counts is None:  # not from a list page
            counts = selectors.exposures_by_experiment([obj])[obj.pk]
        return " · ".join(f"{v}: {n:,}" for v, n in counts.items())

    # An experiment with exposures is evidence: it can be stopped, never deleted.

    def has_delete_permission(self, request, obj=None):
        if obj is not None and services.is_locked(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (type(self).delete_unexposed, name, description)
        return actions

    @admin.action(permissions=["delete"], description="Delete selected experiments")
    def delete_unexposed(self, request, queryset):
        exposed = [exp.key for exp in queryset if services.is_locked(exp)]
        if exposed:
            self.message_user(
                request,
                f"Not deleted: {', '.join(exposed)} ha{'s' if len(exposed) == 1 else 've'} "
                "exposures (stop an experiment instead). Nothing was deleted.",
                messages.ERROR,
            )
            return None
        return delete_selected(self, request, queryset)

    def delete_queryset(self, request, queryset):
        # The confirmation page posts again: check again (users may have been exposed since).
        if any(services.is_locked(exp) for exp in queryset):
            raise PermissionDenied("An experiment with exposures cannot be deleted.")
        super().delete_queryset(request, queryset)

    def delete_model(self, request, obj):
        if services.is_locked(obj):
            raise PermissionDenied("An experiment with exposures cannot be deleted.")
        super().delete_model(request, obj)

    @admin.display(description="variants (weights)")
    def arms(self, obj):
        return selectors.format_arms(obj)

    @admin.display(description="exposures", ordering="exposure_count")
    def exposures(self, obj):
        return obj.exposure_count

    def get_readonly_fields(self, request, obj=None):
        fields = ["status", "winner", "created_at", "updated_at", "updated_by"]
        if obj is not None:
            fields.append("key")
            if services.is_locked(obj):
                # Exposed users must keep their variant: assignment inputs are frozen.
                fields += ["variants", "weights", "salt"]
        return fields

    def save_model(self, request, obj, form, change):
        d = form.definition
        fields = {"variants": d.variants, "weights": d.weights, "salt": d.salt}
        fields.update(analysis=d.analysis, planned_users=d.planned_users, metrics=d.metrics)
        saved = None
        # The form validated, so only a race lands in `reported` (the key or salt
        # was taken, or users were exposed, since): it shows the error; nothing is saved.
        with reported(self, request):
            if change:
                saved = services.experiment_update(
                    key=obj.key, description=d.description, actor=admin_actor(request), **fields
                )
            else:
                saved = services.experiment_create(
                    key=d.key, description=d.description, actor=admin_actor(request), **fields
                )
        if saved is None:
            obj._save_error = True
            return
        obj.pk = saved.pk
        obj._state.adding = saved._state.adding

    # After a refused save the admin would go on with the unsaved object (its pk
    # None on an add): skip what needs a saved row and show the form again.

    def save_related(self, request, form, formsets, change):
        if not hasattr(form.instance, "_save_error"):
            super().save_related(request, form, formsets, change)

    def log_addition(self, request, obj, message):
        if not hasattr(obj, "_save_error"):
            return super().log_addition(request, obj, message)
        return None

    def log_change(self, request, obj, message):
        if not hasattr(obj, "_save_error"):
            return super().log_change(request, obj, message)
        return None

    def response_add(self, request, obj, post_url_continue=None):
        if hasattr(obj, "_save_error"):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if hasattr(obj, "_save_error"):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_change(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        exp = Experiment.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if exp is not None:
            extra_context.update(results_context(exp, request.GET.get("event")))
        return super().change_view(request, object_id, form_url, extra_context)

    def _set_status(self, request, queryset, status, winners=None):
        for exp in queryset:
            try:
                services.experiment_set_status(
                    key=exp.key,
                    status=status,
                    winner=(winners or {}).get(exp.key) or None,
                    actor=admin_actor(request),
                )
            except ServiceError as exc:
                # Not `reported()`: in a bulk action the message must name the experiment.
                self.message_user(request, f"{exp.key}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{exp.key}: {status}", messages.SUCCESS)

    @admin.action(description="Pause selected experiments", permissions=["change"])
    def pause(self, request, queryset):
        self._set_status(request, queryset, Status.PAUSED)

    @admin.action(description="Resume selected experiments", permissions=["change"])
    def resume(self, request, queryset):
        self._set_status(request, queryset, Status.RUNNING)

    @admin.action(
        description="Stop selected experiments (choose a winner)…", permissions=["change"]
    )
    def stop(self, request, queryset):
        if request.POST.get("confirm") == "yes":
            winners = {exp.key: request.POST.get(f"winner_{exp.pk}", "") for exp in queryset}
            self._set_status(request, queryset, Status.STOPPED, winners)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Stop experiments",
            "opts": self.model._meta,
            "experiments": list(queryset),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/experiments/experiment/stop.html", context)


CHART_WIDTH = 560
ROW_HEIGHT = 34
LABEL_WIDTH = 120


def chart(variants: list[dict]) -> dict:
    """Lay out a horizontal bar chart of rates with Wilson intervals (inline SVG)."""
    tops = [v["rate_ci"][1] for v in variants if v["rate_ci"]] or [0.0]
    scale_max = max(max(tops) * 1.1, 1e-9)
    plot = CHART_WIDTH - LABEL_WIDTH - 70

    def x(value):
        return LABEL_WIDTH + plot * value / scale_max

    rows = []
    for i, v in enumerate(variants):
        y = 10 + i * ROW_HEIGHT
        row = {"label": v["variant"], "y": y, "text_y": y + 15, "mid": y + 10}
        if v["rate"] is not None:
            lo, hi = v["rate_ci"]
            row.update(
                has_bar=True,
                bar_x=LABEL_WIDTH,
                bar_w=round(x(v["rate"]) - LABEL_WIDTH, 2),
                ci_x1=round(x(lo), 2),
                ci_x2=round(x(hi), 2),
                value_x=round(x(hi) + 6, 2),
                value=f"{v['rate']:.2%}",
            )
        else:
            row.update(value_x=LABEL_WIDTH, value="no users")
        rows.append(row)
    return {
        "width": CHART_WIDTH,
        "height": 20 + ROW_HEIGHT * len(variants),
        "axis_x": LABEL_WIDTH,
        "rows": rows,
        "scale_max": f"{scale_max:.2%}",
    }


def _pct(x: float | None, fmt: str = ".2%") -> str:
    return "—" if x is None else format(x, fmt)


def _interval(ci: list[float] | None, fmt: str, scale: float = 1.0, unit: str = "") -> str:
    if not ci:
        return "—"
    return f"{format(ci[0] * scale, fmt)}{unit} to {format(ci[1] * scale, fmt)}{unit}"


def display_rows(data: dict) -> list[dict]:
    """Return the results table as text: percentages, pp and % uplifts, both intervals."""
    rows = []
    for v in data["variants"]:
        p = v["p_value"]
        rows.append(
            {
                "variant": v["variant"],
                "users": f"{v['users']:,}",
                "converters": f"{v['converters']:,}",
                "rate": _pct(v["rate"]),
                "rate_ci": _interval(v["rate_ci"], ".2%"),
                "uplift_pp": "—" if v["uplift_abs"] is None else f"{v['uplift_abs'] * 100:+.2f} pp",
                "uplift_ci": _interval(v["uplift_abs_ci"], "+.2f", 100, " pp"),
                "uplift_seq_ci": _interval(v["uplift_abs_seq_ci"], "+.2f", 100, " pp"),
                "uplift_rel": _pct(v["uplift_rel"], "+.1%"),
                "uplift_rel_ci": _interval(v["uplift_rel_ci"], "+.1%"),
                "p_value": "—" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}"),
                "prob": "—" if v["prob_beat_control"] is None else chance(v["prob_beat_control"]),
                "mean_value": "—" if v["mean_value"] is None else f"{v['mean_value']:.4g}",
                "value_uplift_ci": _interval(v["value_uplift_ci"], ".4g"),
                "significant": v[
                    "significant_seq" if data["analysis"] == "sequential" else "significant"
                ],
            }
        )
    return rows


def results_context(exp: Experiment, event: str | None) -> dict:
    names = selectors.event_names(exp)
    primary = selectors.metric_events(exp)[0]
    event = event or (primary if primary in names or not names else names[0])
    try:
        data, every = selectors.results_with_all(experiment=exp.key, event=event)
        series = timeseries.timeseries(experiment=exp.key, event=event, days=30)
    except ServiceError as exc:
        return {"results_error": exc.detail, "event_names": names}
    # The verdict is about the primary metric, with every guardrail.
    return {
        "results": data,
        "results_rows": display_rows(data),
        "results_event": event,
        "verdict": selectors.verdict(every),
        "guardrail_failed": every["guardrail_failed"],
        "event_names": names,
        "results_chart": chart(data["variants"]),
        "rate_chart": charts.rate_chart(series),
        "uplift_chart": charts.uplift_chart(series),
        "locked": services.is_locked(exp),
    }
