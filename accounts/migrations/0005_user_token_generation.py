from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_coach_time_zone_from_profile"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="token_generation",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
    ]
