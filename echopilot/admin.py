"""Admin building blocks the apps share, and the API keys page (superusers only)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from echopilot import access
from echopilot.auth import admin_actor
from echopilot.exceptions import ServiceError
from echopilot.models import ApiKey

# The console's name on every page; /admin/ itself is the overview (templates/admin/index.html).
admin.site.site_header = admin.site.site_title = "EchoPilot Ops"
admin.site.index_title = "Overview"
# Lists get the whole width of a 1366-pixel screen; the overview and breadcrumbs navigate.
admin.site.enable_nav_sidebar = False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the app's services; the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@contextmanager
def reported(model_admin: admin.ModelAdmin, request: HttpRequest) -> Iterator[None]:
    """Show a `ServiceError` raised inside the block as an admin error message."""
    try:
        yield
    except ServiceError as exc:
        model_admin.message_user(request, exc.detail, level=messages.ERROR)


def is_superuser(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


class ApiKeyCreateForm(forms.ModelForm):
    """A new key, checked by the same `access.validate_new_key` as the command."""

    scopes = forms.MultipleChoiceField(
        choices=[(s, s) for s in access.SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="evaluate: what an application embeds; read: every GET, plus evaluate; "
        "write: everything; metrics: GET /metrics; alertmanager: the Alertmanager webhook.",
    )
    expires = forms.CharField(
        required=False, help_text="90d, 12h, or an ISO date/date-time (UTC); empty: never."
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires", "rate"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            access.validate_new_key(
                name=cleaned.get("name", ""),
                scopes=cleaned.get("scopes"),
                expires=cleaned.get("expires"),
                rate=cleaned.get("rate"),
            )
        except ServiceError as exc:
            raise forms.ValidationError(exc.detail) from None
        return cleaned


SHOWN_FIELDS = [
    "name",
    "prefix",
    "scope_list",
    "state",
    "rate",
    "created_at",
    "created_by",
    "last_used_at",
    "expires_at",
    "revoked_at",
    "revoked_by",
    "rotated_at",
    "previous_secret",
]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """API keys, for superusers only: create (the secret shown once), rotate, revoke.

    No group permission opens this page (the model defines none). A key is
    never edited or deleted: revoke it, or rotate its secret.
    """

    form = ApiKeyCreateForm
    list_display = ["name", "prefix", "scope_list", "state", "created_at", "last_used_at"]
    list_display += ["expires_at"]
    search_fields = ["name", "prefix"]
    actions = ["rotate_key", "revoke_keys"]
    readonly_fields = SHOWN_FIELDS

    # Every permission is the superuser's alone.
    def has_module_permission(self, request):
        return is_superuser(request)

    def has_view_permission(self, request, obj=None):
        return is_superuser(request)

    def has_add_permission(self, request):
        return is_superuser(request)

    def has_change_permission(self, request, obj=None):
        return False  # keys are rotated or revoked, never edited

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: `api:<name>` in history keeps meaning one key

    def has_rotate_permission(self, request):
        return is_superuser(request)

    def has_revoke_permission(self, request):
        return is_superuser(request)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = forms.ModelForm  # shown read-only
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["name", "scopes", "expires", "rate"] if obj is None else SHOWN_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else SHOWN_FIELDS

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="state")
    def state(self, obj: ApiKey) -> str:
        return str(access.key_info(obj)["state"])

    @admin.display(description="previous secret")
    def previous_secret(self, obj: ApiKey) -> str:
        info = access.key_info(obj)
        if not info["previous_prefix"]:
            return "—"
        until = info["previous_valid_until"]
        return f"{info['previous_prefix']}… " + (f"works until {until}" if until else "refused")

    def save_model(self, request, obj, form, change):
        if change:
            return
        data = form.cleaned_data
        issued = access.apikey_create(
            name=data["name"],
            scopes=data["scopes"],
            actor=admin_actor(request),
            expires=data.get("expires"),
            rate=data.get("rate"),
        )
        saved = ApiKey.objects.get(name=issued.info["name"])
        obj.__dict__.update({f.attname: getattr(saved, f.attname) for f in saved._meta.fields})
        obj._issued = issued  # for response_add only; never stored

    def save_related(self, request, form, formsets, change):
        pass  # a key has no relations

    def response_add(self, request, obj, post_url_continue=None):
        return self.secret_page(request, obj._issued, "API key created")

    def secret_page(
        self, request: HttpRequest, issued: access.IssuedKey, title: str
    ) -> TemplateResponse:
        """Show a secret, on this response only (no message, no session, no cache)."""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "info": issued.info,
            "secret": issued.secret,
        }
        response = TemplateResponse(request, "admin/echopilot/apikey/secret.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description="Rotate the selected key (new secret)…", permissions=["rotate"])
    def rotate_key(self, request, queryset):
        keys = list(queryset)
        if len(keys) != 1:
            self.message_user(request, "Rotate one key at a time.", messages.ERROR)
            return None
        if request.POST.get("confirm") == "yes":
            try:
                issued = access.apikey_rotate(
                    name=keys[0].name, actor=admin_actor(request), grace=request.POST.get("grace")
                )
            except ServiceError as exc:
                self.message_user(request, f"{keys[0].name}: {exc.detail}", messages.ERROR)
                return None
            return self.secret_page(request, issued, "API key rotated")
        return self.confirm_page(request, keys, "rotate_key", "Rotate API key")

    @admin.action(description="Revoke the selected keys…", permissions=["revoke"])
    def revoke_keys(self, request, queryset):
        keys = list(queryset)
        if request.POST.get("confirm") != "yes":
            return self.confirm_page(request, keys, "revoke_keys", "Revoke API keys")
        for key in keys:
            with reported(self, request):
                info = access.apikey_revoke(name=key.name, actor=admin_actor(request))
                done = "revoked" if info["changed"] else "was already revoked"
                self.message_user(request, f"{key.name}: {done}.", messages.SUCCESS)
        return None

    def confirm_page(
        self, request: HttpRequest, keys: list[ApiKey], action: str, title: str
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "keys": keys,
            "action": action,
            "default_grace": "24h",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/echopilot/apikey/confirm.html", context)


# Security (docs/security.md): Django-Q2's pages without code execution, and
# admin logins limited per username and client address.
def _harden_admin() -> None:
    from echopilot import security, taskadmin

    taskadmin.install(admin.site)
    admin.site.login_form = security.LoginForm


_harden_admin()
