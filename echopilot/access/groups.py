"""The two console groups: "Ops viewers" (view everything) and "Ops editors".

Viewers hold every view_* permission of VIEW_APPS (the project's apps and
Django-Q2's task pages); editors hold the same plus EDITOR_PERMISSIONS.

`sync_groups()` gives each group exactly its permissions. It runs in the
data migration `echopilot.0003_console_groups` and again after every
`migrate` (post_migrate, see `echopilot.apps`), so a permission another app
adds in a later migration joins its group on the next migrate. The groups are
managed here: a permission added to them by hand is removed on the next
migrate (give a colleague an extra group of your own instead).
"""

from collections.abc import Iterable
from typing import Any

from django.apps import apps as global_apps

VIEWERS = "Ops viewers"
EDITORS = "Ops editors"

# The apps whose view_* permissions the viewers get: the project's, and Django-Q2's
# (schedules, successful and failed tasks, the queue), so a viewer can open the
# Scheduler card's failed-task links. Viewing is all it gives: re-running a task
# needs `django_q.add_schedule` (echopilot.taskadmin), which only superusers hold.
PROJECT_APPS = ("echopilot", "support", "flags", "experiments", "costs", "incidents")
VIEW_APPS = (*PROJECT_APPS, "django_q")

# What the console changes, beyond viewing. A codename that does not exist
# (yet) is skipped, so a later migration's permission joins on the next migrate.
EDITOR_PERMISSIONS = (
    "flags.add_flag",
    "flags.change_flag",
    "flags.add_flagschedule",
    "flags.change_flagschedule",
    "flags.delete_flagschedule",
    "flags.add_segment",
    "flags.change_segment",
    "flags.delete_segment",
    "experiments.add_experiment",
    "experiments.change_experiment",
    "incidents.ack_incident",
    "incidents.resolve_incident",
    "incidents.add_silence",
    "incidents.change_silence",
    "incidents.add_incidentnote",
    "support.run_digest",
    "costs.add_costreport",  # "Generate a report now" in the costs admin
)


def _permission_ids(Permission: Any, using: str, names: Iterable[str]) -> set[int]:
    """Return the ids of the `app_label.codename` permissions that exist."""
    wanted = {tuple(name.split(".", 1)) for name in names}
    rows = (
        Permission.objects.using(using)
        .filter(content_type__app_label__in={app for app, _ in wanted})
        .values_list("id", "content_type__app_label", "codename")
    )
    return {pk for pk, app, codename in rows if (app, codename) in wanted}


def sync_groups(apps: Any = None, using: str = "default") -> dict[str, int]:
    """Create or update the two groups; return how many permissions each holds.

    `apps` is a migration's app registry (the live one by default).
    """
    registry = apps or global_apps
    Group = registry.get_model("auth", "Group")
    Permission = registry.get_model("auth", "Permission")
    views = set(
        Permission.objects.using(using)
        .filter(content_type__app_label__in=VIEW_APPS, codename__startswith="view_")
        .values_list("id", flat=True)
    )
    edits = _permission_ids(Permission, using, EDITOR_PERMISSIONS)
    result = {}
    for name, ids in ((VIEWERS, views), (EDITORS, views | edits)):
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(sorted(ids))
        result[name] = len(ids)
    return result


def sync_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver: sync once, after the last app's permissions exist.

    Django sends post_migrate once per app, in INSTALLED_APPS order, and
    creates each app's permissions in its own receiver; waiting for the last
    app means every permission is there (also after a test database flush).
    """
    with_models = [a for a in global_apps.get_app_configs() if a.models_module is not None]
    if not with_models or sender.label != with_models[-1].label:
        return
    apps = kwargs.get("apps")
    try:
        (apps or global_apps).get_model("auth", "Group")
    except LookupError:
        return  # a partial migrate that did not reach auth: the next full migrate syncs
    sync_groups(apps, using=using)
