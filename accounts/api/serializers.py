"""Serializers shared by several auth endpoints (and named in ``REST_AUTH``)."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.models import User


def success_field() -> serializers.BooleanField:
    """The envelope's ``"success": true`` as an output field."""
    return serializers.BooleanField(default=True, read_only=True)


@extend_schema_serializer(component_name="User")
class UserOutputSerializer(serializers.ModelSerializer):
    """The public view of a user: ``{"id", "email", "name", "role", "timeZone"}``
    (the zone times are shown to them in; the API's own times are ISO 8601
    with offsets whatever it is)."""

    timeZone = serializers.CharField(source="time_zone", read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "name", "role", "timeZone"]
        read_only_fields = fields


@extend_schema_serializer(component_name="LoginInput")
class LoginInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, write_only=True
    )


@extend_schema_serializer(component_name="Login")
class JwtOutputSerializer(serializers.Serializer):
    """Login and registration: the access token and who is logged in.

    The refresh token is deliberately absent: it lives only in its httpOnly
    cookie, out of reach of scripts.
    """

    success = success_field()
    access = serializers.CharField(help_text="JWT for `Authorization: Bearer`.")
    accessExpiration = serializers.DateTimeField(source="access_expiration")
    refreshExpiration = serializers.DateTimeField(source="refresh_expiration")
    user = UserOutputSerializer()


class _ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


@extend_schema_serializer(component_name="Error")
class ErrorOutputSerializer(serializers.Serializer):
    """The error envelope that ``coaching.api_errors`` renders (for the schema)."""

    success = serializers.BooleanField(default=False, read_only=True)
    error = _ErrorSerializer()
