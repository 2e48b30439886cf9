from django.db import migrations, models


def requeue_given_up(apps, schema_editor):
    """Put alerts an earlier version gave up on back in the queue (sent oldest first)."""
    Alert = apps.get_model("incidents", "Alert")
    Alert.objects.filter(status="failed").update(status="pending", claimed_until=None)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0002_alert_state_help_text"),
    ]

    operations = [
        migrations.RunPython(requeue_given_up, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="alert",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("delivered", "Delivered"),
                    ("dry_run", "Dry-run (not sent)"),
                ],
                default="pending",
                help_text="pending until Telegram accepts it.",
                max_length=16,
            ),
        ),
    ]
