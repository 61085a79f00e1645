"""``manage.py replay_webhook <stripe event id> [...]``: process stored events again.

The same service as the admin's "Replay" action. Every id must be a stored
event, or nothing is replayed. Prints each event's status afterwards; exits
non-zero for an unknown id or an event that failed again.
"""

from django.core.management.base import BaseCommand, CommandError

from payments.models import WebhookEvent
from payments.services.events import webhook_event_replay

_OK = {WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED}


class Command(BaseCommand):
    help = "Replay stored Stripe webhook events (failed, dead or processed) now."

    def add_arguments(self, parser):
        parser.add_argument(
            "event_ids", nargs="+", metavar="EVENT_ID", help="Stripe event id (evt_…)"
        )

    def handle(self, *args, event_ids: list[str], **options) -> None:
        ids = list(dict.fromkeys(event_ids))
        found = dict(
            WebhookEvent.objects.filter(stripe_event_id__in=ids).values_list(
                "stripe_event_id", "pk"
            )
        )
        unknown = [event_id for event_id in ids if event_id not in found]
        if unknown:
            raise CommandError(
                f"Unknown event id: {', '.join(unknown)}. Nothing was replayed."
            )
        failed = []
        for event_id in ids:
            row = webhook_event_replay(event_pk=found[event_id], actor=None)
            line = f"{event_id} {row.type}: {row.status}"
            if row.status in _OK:
                self.stdout.write(self.style.SUCCESS(line))
            else:
                failed.append(event_id)
                self.stdout.write(self.style.ERROR(f"{line} ({row.last_error})"))
        if failed:
            raise CommandError(f"Not processed: {', '.join(failed)}.")
