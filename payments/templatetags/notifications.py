"""``{% load notifications %}{% unread_notifications user as unread %}``: the
number of the user's unread notifications, for the navigation."""

from django import template

from payments import selectors

register = template.Library()


@register.simple_tag
def unread_notifications(user) -> int:
    return selectors.notification_unread_count(user=user)
