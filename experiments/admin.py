"""Admin: experiments with exposure counts, results with SRM warning and chart, actions."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse

from echopilot.admin import reported
from echopilot.auth import admin_actor
from echopilot.exceptions import ServiceError
from experiments import selectors, services
from experiments.models import Experiment, Status


class ExperimentForm(forms.ModelForm):
    """Validate a definition with the same rules as the config file."""

    class Meta:
        model = Experiment
        fields = ["key", "description", "variants", "weights", "salt"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("salt", "weights", "description"):
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
    list_display = ["key", "status", "winner", "arms", "exposures", "updated_at", "updated_by"]
    list_filter = ["status"]
    search_fields = ["key", "description"]
    actions = ["pause", "resume", "stop"]
    change_form_template = "admin/experiments/experiment/change_form.html"

    def get_queryset(self, request):
        return selectors.list_experiments()

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


def results_context(exp: Experiment, event: str | None) -> dict:
    names = selectors.event_names(exp)
    event = event or ("conversion" if "conversion" in names or not names else names[0])
    try:
        data = selectors.results(experiment=exp.key, event=event)
    except ServiceError as exc:
        return {"results_error": exc.detail, "event_names": names}
    return {
        "results": data,
        "results_event": event,
        "event_names": names,
        "results_chart": chart(data["variants"]),
        "locked": services.is_locked(exp),
    }
