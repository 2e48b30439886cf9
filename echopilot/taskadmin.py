"""Django-Q2's admin pages, rebuilt so that the admin can never run arbitrary code.

Django-Q2's own pages let a staff user with `add_schedule` type any importable
function (and a `hook`, `args`, `kwargs`) into a schedule, and its "Resubmit"
action checks no permission at all. Here:

- a schedule's function is a choice among the project's schedule registry
  (`echopilot.schedules`); hook, args, kwargs and cluster are read-only;
- re-running a task needs `django_q.add_schedule` (it starts work, as adding a
  schedule does), and only a task whose function is in the registry, with no
  arguments, is re-run; re-running a failed task also needs `delete_failure`,
  since its failure record is removed;
- queued tasks are read-only (deleting needs `delete_ormq`);
- a task's result (an exception text and traceback, or a return value) is shown
  with every configured secret masked (`echopilot.secrets.redact`), on the list
  and on the task's page: viewers may open these pages.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import truncatechars
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success, Task
from django_q.tasks import async_task

from echopilot import schedules
from echopilot.secrets import redact


def registered_funcs() -> dict[str, str]:
    """Return {function path: schedule name} for every registered schedule."""
    return {entry.func: name for name, entry in sorted(schedules.discover().items())}


class ScheduleForm(forms.ModelForm):
    """A schedule whose function is one of the registry's, never free text."""

    func = forms.ChoiceField(
        choices=(),
        help_text="One of the project's scheduled tasks (echopilot.schedules registry).",
    )

    class Meta:
        model = Schedule
        fields = ["name", "func", "schedule_type", "minutes", "cron", "repeats", "next_run"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        func_field: Any = self.fields["func"]
        func_field.choices = [
            (func, f"{name} ({func})") for func, name in registered_funcs().items()
        ]


class ScheduleAdmin(q_admin.ScheduleAdmin):
    form = ScheduleForm
    fields = ScheduleForm.Meta.fields
    readonly_fields = ["hook", "args", "kwargs", "cluster", "intended_date_kwarg", "task"]

    def get_fields(self, request, obj=None):
        return [*self.fields, *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        # Whatever the stored row held, the saved schedule calls a registered
        # function with no arguments and no hook.
        obj.hook = obj.args = obj.kwargs = None
        super().save_model(request, obj, form, change)


def resubmit(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Task]) -> None:
    """Queue the selected tasks again: registered functions without arguments only."""
    allowed = registered_funcs()
    queued = 0
    for task in queryset:
        if task.func not in allowed or task.args or task.kwargs or task.hook:
            model_admin.message_user(
                request,
                f"{task.name}: not re-run; only a scheduled task of this project "
                "without arguments can be re-run from the admin.",
                messages.ERROR,
            )
            continue
        async_task(task.func, group=task.group, cluster=task.cluster)
        queued += 1
        if isinstance(task, Failure):
            task.delete()
    if queued:
        model_admin.message_user(request, f"{queued} task(s) queued again.", messages.SUCCESS)


class ResubmitMixin:
    """The resubmit action, offered only to users allowed to start work."""

    def has_resubmit_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("django_q.add_schedule"))


@admin.action(description="Re-run the selected tasks", permissions=["resubmit"])
def resubmit_success(model_admin, request, queryset):
    resubmit(model_admin, request, queryset)


@admin.action(
    description="Re-run the selected tasks (removes their failure records)",
    permissions=["resubmit"],
)
def resubmit_failure(model_admin, request, queryset):
    resubmit(model_admin, request, queryset)


class RedactedResultMixin:
    """Show a task's result with secrets masked, in place of the raw field."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        names = super().get_readonly_fields(request, obj)  # type: ignore[misc]
        return ["result_redacted" if name == "result" else name for name in names]

    @admin.display(description="Result")
    def result_redacted(self, obj: Task) -> str:
        return redact(str(obj.result if obj.result is not None else ""))

    @admin.display(description="Short result")
    def short_result(self, obj: Task) -> str:
        return truncatechars(self.result_redacted(obj), 100)


class SuccessAdmin(RedactedResultMixin, ResubmitMixin, q_admin.TaskAdmin):
    actions = [resubmit_success]


class FailureAdmin(RedactedResultMixin, ResubmitMixin, q_admin.FailAdmin):
    actions = [resubmit_failure]

    def has_resubmit_permission(self, request: HttpRequest) -> bool:
        return super().has_resubmit_permission(request) and bool(
            request.user.has_perm("django_q.delete_failure")
        )


class QueueAdmin(q_admin.QueueAdmin):
    """Queued tasks, read-only: a task's lock or key is the cluster's business."""

    def has_change_permission(self, request, obj=None):
        return False


def install(site: admin.AdminSite = admin.site) -> None:
    """Replace Django-Q2's admin pages on `site` with the ones above."""
    replacements: list[tuple[type, type[admin.ModelAdmin]]] = [
        (Schedule, ScheduleAdmin),
        (Success, SuccessAdmin),
        (Failure, FailureAdmin),
        (OrmQ, QueueAdmin),
    ]
    for model, model_admin in replacements:
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, model_admin)
