"""``coach_setup_pending``: whether a coach still has checklist steps to do."""

from django import template

from bookings import selectors

register = template.Library()


@register.simple_tag
def coach_setup_pending(user) -> bool:
    """True for a coach who is not bookable yet (the nav then links the checklist)."""
    if not getattr(user, "is_coach", False):
        return False
    return not all(selectors.coach_setup_steps(coach=user).values())
