"""Existing coaches read times in the zone their hours are defined in (their
profile's), rather than the site default the new column gave everyone."""

from django.db import migrations


def copy_profile_zone(apps, schema_editor):
    CoachProfile = apps.get_model("bookings", "CoachProfile")
    User = apps.get_model("accounts", "User")
    for user_id, zone in CoachProfile.objects.values_list("user_id", "time_zone"):
        User.objects.filter(pk=user_id).update(time_zone=zone)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_email_verified"),
        ("bookings", "0001_initial"),
    ]

    operations = [migrations.RunPython(copy_profile_zone, migrations.RunPython.noop)]
