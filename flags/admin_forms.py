"""The flags admin's building blocks: typed value fields, pretty JSON, buttons, Try it."""

import json
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString

from echopilot.exceptions import ServiceError
from flags import selectors, services
from flags.engine import FlagError, context_problem
from flags.models import Flag


def back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Redirect to the page the button was on (same host only), else `fallback`."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(referer)
    return HttpResponseRedirect(reverse(fallback))


def revert_link(change_id: int) -> SafeString:
    """A link to the page that shows what a revert undoes and asks to confirm it."""
    url = reverse("admin:flags_flagchange_revert", args=[change_id])
    return format_html('<a class="button" href="{}">Revert…</a>', url)


def try_message(key: str, text: str) -> str:
    """Evaluate flag `key` for a JSON context typed in the admin; return the outcome."""
    try:
        context = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        return f"Try it: the context is not JSON ({exc})."
    if not isinstance(context, dict):
        return "Try it: the context must be a JSON object."
    problem = context_problem(context)
    if problem:
        return f"Try it: {problem}."
    try:
        value, variant, reason = selectors.evaluate(key, context)
    except FlagError as exc:
        return f"Try it: {exc.detail} ({exc.code})"
    return f"Try it: value {json.dumps(value)}, variant {variant!r}, reason {reason}."


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


class PrettyJSONField(forms.JSONField):
    """JSON shown indented, so rules and rollouts read like the docs' examples."""

    def __init__(self, *args: Any, rows: int = 8, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": rows, "cols": 90}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


RULES_EXAMPLE = json.dumps(
    [
        {
            "name": "dach",
            "conditions": [{"attribute": "country", "op": "in", "value": ["DE", "AT", "CH"]}],
            "value": True,
        },
        {"name": "beta", "segment": "beta-testers", "value": True},
    ],
    indent=2,
)
ROLLOUT_EXAMPLE = json.dumps({"percentage": 25, "value": True, "name": "treatment"}, indent=2)
PREREQUISITES_EXAMPLE = json.dumps([{"flag": "payments.live", "value": True}])


def value_field(flag_type: str | None) -> forms.Field:
    """Return the form field that fits a flag type (a JSON editor only for objects)."""
    help_text = "Served when the flag is disabled, or when no rule or rollout applies."
    if flag_type == "boolean":
        return forms.BooleanField(required=False, help_text=help_text)
    if flag_type == "integer":
        return forms.IntegerField(help_text=help_text)
    if flag_type == "float":
        return forms.FloatField(help_text=help_text)
    if flag_type == "string":
        return forms.CharField(required=False, strip=False, help_text=help_text)
    return PrettyJSONField(
        rows=6, required=True, help_text=help_text + ' JSON (e.g. true, 3, "dark", {"a": 1}).'
    )


class FlagAdminForm(forms.ModelForm):
    rules = PrettyJSONField(help_text=f"Worked example:<pre>{RULES_EXAMPLE}</pre>")
    rollout = PrettyJSONField(rows=5, help_text=f"Worked example:<pre>{ROLLOUT_EXAMPLE}</pre>")
    prerequisites = PrettyJSONField(
        rows=4, help_text=f"Example: <code>{PREREQUISITES_EXAMPLE}</code>"
    )
    announce_channels = PrettyJSONField(
        rows=2, help_text='Channel names, e.g. ["slack"]; [] = all.'
    )

    class Meta:
        model = Flag
        fields = [
            "key",
            "type",
            "value",
            "description",
            "rules",
            "rollout",
            "prerequisites",
            "enabled",
            "archived",
            "announce",
            "announce_channels",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "value" in self.fields:
            # An existing flag's value is edited with the control of its type.
            self.fields["value"] = value_field(self.instance.type)

    # Set by clean(): what FlagAdmin.save_model hands `services.flag_set`.
    flag_key: str
    flag_type: str | None
    flag_fields: dict[str, Any]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        existing = Flag.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        self.flag_key = existing.key if existing else cleaned.get("key", "")
        self.flag_type = existing.type if existing else cleaned.get("type")
        self.flag_fields = {
            "value": cleaned.get("value"),
            "description": cleaned.get("description") or "",
            "rules": cleaned.get("rules") or [],
            "rollout": cleaned.get("rollout"),
            "enabled": cleaned.get("enabled"),
            "archived": cleaned.get("archived"),
            "prerequisites": cleaned.get("prerequisites") or [],
            "announce": bool(cleaned.get("announce")),
            "announce_channels": cleaned.get("announce_channels") or [],
        }
        try:
            # The service's own checks and messages (links: segments, prerequisites).
            services.validate_flag(
                key=self.flag_key,
                flag=existing,
                type_=self.flag_type,
                retype=existing is None,
                **self.flag_fields,
            )
        except ServiceError as exc:
            raise forms.ValidationError(exc.detail) from None
        return cleaned
