"""Forms of the auth pages: input shape only; the rules live in services."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.zones import is_zone, zone_choices


class TimeZoneInput(forms.TextInput):
    """A text field with a ``<datalist>`` of zones: common ones first, every
    zone searchable by typing, no JavaScript needed (the server validates)."""

    template_name = "accounts/widgets/time_zone.html"

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["zones"] = zone_choices()
        context["widget"]["attrs"]["list"] = f"{context['widget']['attrs']['id']}-list"
        return context


class TimeZoneField(forms.CharField):
    widget = TimeZoneInput

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("autocomplete", "off")
        self.widget.attrs.setdefault("spellcheck", "false")

    def validate(self, value) -> None:
        super().validate(value)
        if value and not is_zone(value):
            raise forms.ValidationError(
                _("Choose a time zone from the list, e.g. Europe/Zurich."),
                code="invalid_time_zone",
            )


class LoginForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class RegistrationForm(forms.Form):
    ROLE_CHOICES = [
        (User.Role.CLIENT, _("Client: I want to book coaching sessions")),
        (User.Role.COACH, _("Coach: I offer coaching sessions")),
    ]

    name = forms.CharField(
        label=_("Name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name", "autofocus": True}),
    )
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    role = forms.ChoiceField(
        label=_("I am a"),
        choices=ROLE_CHOICES,
        initial=User.Role.CLIENT,
        widget=forms.RadioSelect,
    )
    # Filled in with the browser's zone by static/js/time-zone.js; without it
    # (or with a zone we do not know) the site's default is used.
    time_zone = forms.CharField(
        required=False,
        max_length=64,
        widget=forms.HiddenInput(attrs={"data-browser-tz": ""}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = " ".join(
            password_validation.password_validators_help_texts()
        )


class AccountForm(forms.Form):
    """What a person edits about themselves: name and time zone."""

    name = forms.CharField(
        label=_("Name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    time_zone = TimeZoneField(
        label=_("Time zone"),
        help_text=_(
            "Every time on this site and in our emails is shown in this zone. "
            "Type to search, e.g. Zurich or New_York."
        ),
    )


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's, labelled like our other forms."""

    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
