"""``{{ value|when }}``: a time as people read it, zone named, in the active
zone (the viewer's, activated by ``accounts.middleware``) or in the zone given
as the argument (``{{ value|when:zone }}``)."""

from django import template

from accounts.zones import format_when

register = template.Library()


@register.filter
def when(value, zone: str | None = None) -> str:
    return format_when(value, zone)


@register.filter
def when_time(value, zone: str | None = None) -> str:
    """The same without the zone's name, for places that name it once."""
    return format_when(value, zone, with_zone=False)
