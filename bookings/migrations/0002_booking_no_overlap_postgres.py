"""On PostgreSQL, forbid two live bookings of one coach at overlapping times.

The booking service checks overlaps under a row lock on every backend; this
exclusion constraint is the database's own guarantee where the database can
give it (SQLite cannot, so the migration does nothing there).
"""

from django.db import migrations

LIVE = "('pending_payment', 'confirmed', 'completed')"

CREATE = f"""
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE bookings_booking ADD CONSTRAINT booking_coach_no_overlap
    EXCLUDE USING gist (
        coach_id WITH =,
        tstzrange(starts_at, ends_at, '[)') WITH &&
    ) WHERE (status IN {LIVE});
"""
DROP = "ALTER TABLE bookings_booking DROP CONSTRAINT IF EXISTS booking_coach_no_overlap;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
