"""Create the console groups "Ops viewers" and "Ops editors" (echopilot.access.groups)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_groups(apps, schema_editor):
    from echopilot.access.groups import sync_groups

    # Permissions are normally created after the last migration (post_migrate);
    # create those of the models known so far, so the groups are not empty.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
    sync_groups(apps, using=schema_editor.connection.alias)


def delete_groups(apps, schema_editor):
    from echopilot.access.groups import EDITORS, VIEWERS

    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=[VIEWERS, EDITORS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("echopilot", "0002_api_keys"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
