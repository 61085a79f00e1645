"""Auth endpoints on dj-rest-auth and simplejwt, in the project's envelope.

Login, logout, refresh and registration authenticate nobody through DRF: a
stale access cookie must never block a login, a refresh or a logout. The CSRF
check that the cookie and session authentication would have made is made by
``_enforce_csrf_on_cookies`` instead.
"""

from dj_rest_auth.app_settings import api_settings as rest_auth_settings
from dj_rest_auth.jwt_auth import JWTCookieAuthentication, set_jwt_cookies
from dj_rest_auth.views import LoginView
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts import auth_sessions, services, throttling
from accounts.api.serializers import (
    ErrorOutputSerializer,
    JwtOutputSerializer,
    LoginInputSerializer,
    UserOutputSerializer,
    success_field,
)
from accounts.models import User
from accounts.zones import is_zone

TAGS = ["auth"]


def _django_request(request: Request) -> HttpRequest:
    """Django's own request under DRF's.

    Login and logout work on it: it carries the session's user (DRF's
    ``request.user`` is anonymous in views that authenticate nobody), so the
    ``user_logged_out`` signal names who logged out.
    """
    return request._request


def _auth_cookie_names() -> set[str]:
    return {
        settings.SESSION_COOKIE_NAME,
        rest_auth_settings.JWT_AUTH_COOKIE,
        rest_auth_settings.JWT_AUTH_REFRESH_COOKIE,
    }


def _enforce_csrf_on_cookies(request: Request) -> None:
    """Check CSRF when the browser's cookies could act for the caller.

    A request with an ``Authorization`` header was built by code that set the
    header, which a cross-site page cannot do without a CORS preflight; a
    request without our cookies carries no ambient credential to abuse.
    Everything else must show the CSRF token, as a Django form would.
    """
    if "HTTP_AUTHORIZATION" in request.META:
        return
    if _auth_cookie_names() & request.COOKIES.keys():
        JWTCookieAuthentication().enforce_csrf(request)


class _SessionStartApi(LoginView):
    """Base of login: what dj-rest-auth's LoginView does.

    It issues the JWT pair, logs in to the Django session (``SESSION_LOGIN``),
    sets both httpOnly cookies and answers with ``JWT_SERIALIZER_WITH_EXPIRATION``.
    The session half is ``accounts.auth_sessions``, shared with the pages.
    """

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "dj_rest_auth"

    def start_session(self, user: User, *, status_code: int) -> Response:
        self.user = user
        # Logs in to the session too, so dj-rest-auth's process_login() is not
        # called: get_response() then builds the body and sets the cookies.
        refresh = auth_sessions.session_start(_django_request(self.request), user)
        self.access_token, self.refresh_token = refresh.access_token, refresh
        response = self.get_response()
        response.status_code = status_code
        return response


class UserLoginApi(_SessionStartApi):
    serializer_class = LoginInputSerializer

    @extend_schema(
        tags=TAGS,
        summary="Log in with email and password",
        description=(
            "Sets the httpOnly cookies `coaching-access` and `coaching-refresh` and "
            "a Django session; the access token is also in the body for "
            "`Authorization: Bearer` clients. After `LOGIN_FAILURE_LIMIT` failures "
            "for one email from one address (or four times as many for any emails "
            "from one address) that address is refused with 429 for "
            "`LOGIN_LOCKOUT_SECONDS`. An email failing from many addresses is "
            "never locked, only slowed down: 429 with a `Retry-After` of 1 s, "
            "doubling up to 60 s."
        ),
        request=LoginInputSerializer,
        responses={
            200: JwtOutputSerializer,
            400: ErrorOutputSerializer,
            403: ErrorOutputSerializer,
            429: ErrorOutputSerializer,
        },
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        _enforce_csrf_on_cookies(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_authenticate(
            request=_django_request(request),
            client_ip=throttling.client_address(request),
            **serializer.validated_data,
        )
        return self.start_session(user, status_code=status.HTTP_200_OK)


class UserRegisterApi(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "dj_rest_auth"

    @extend_schema_serializer(component_name="RegistrationInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(
            max_length=4096, trim_whitespace=False, write_only=True
        )
        name = serializers.CharField(max_length=150)
        role = serializers.ChoiceField(
            choices=[User.Role.CLIENT, User.Role.COACH], default=User.Role.CLIENT
        )
        timeZone = serializers.CharField(
            source="time_zone",
            max_length=64,
            required=False,
            allow_blank=True,
            help_text="IANA zone, e.g. `Europe/Zurich`; unknown or empty: the site's.",
        )
        next = serializers.CharField(
            source="next_url",
            max_length=2000,
            required=False,
            allow_blank=True,
            help_text="A path on this site the emailed link continues to.",
        )

    @extend_schema_serializer(component_name="RegistrationAccepted")
    class OutputSerializer(serializers.Serializer):
        success = success_field()
        detail = serializers.CharField()

    serializer_class = InputSerializer

    @extend_schema(
        tags=TAGS,
        summary="Sign up: an email confirms the new account",
        description=(
            "Answers 202 with the same body whether or not the email already has "
            "an account, so it cannot be used to find out who has one. A new "
            "address gets an inactive account and an email whose link confirms "
            "it (and logs in, in a browser); a known one gets an email telling "
            "its owner that someone tried to sign up. Admins are never created "
            "here. A coach starts with an empty profile."
        ),
        request=InputSerializer,
        responses={
            202: OutputSerializer,
            400: ErrorOutputSerializer,
            403: ErrorOutputSerializer,
            429: ErrorOutputSerializer,
        },
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        _enforce_csrf_on_cookies(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        next_url = data.pop("next_url", "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}
        ):
            next_url = ""
        services.user_register(
            **data,
            site_url=request.build_absolute_uri("/").rstrip("/"),
            next_url=next_url,
        )
        return Response(
            {
                "success": True,
                "detail": _("Check your email: follow the link we sent to continue."),
            },
            status=status.HTTP_202_ACCEPTED,
        )


class UserLogoutApi(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "dj_rest_auth"

    @extend_schema_serializer(component_name="LogoutInput")
    class InputSerializer(serializers.Serializer):
        refresh = serializers.CharField(
            required=False,
            allow_blank=True,
            help_text="Refresh token to revoke, for clients that keep it themselves.",
        )

    @extend_schema_serializer(component_name="Success")
    class OutputSerializer(serializers.Serializer):
        success = success_field()

    @extend_schema(
        tags=TAGS,
        summary="Log out",
        description=(
            "Logs the user out on every device: every access and refresh token "
            "issued to them so far stops working at once (API and WebSocket), "
            "their Django sessions end and their open sockets are closed with "
            "4401. The user is whoever the session, the access token (Bearer or "
            "cookie) or the refresh token (cookie or `refresh` in the body) "
            "proves. Clears the cookies. Always succeeds, also without a token."
        ),
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: ErrorOutputSerializer,
            403: ErrorOutputSerializer,
            429: ErrorOutputSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        _enforce_csrf_on_cookies(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        response = Response(self.OutputSerializer({}).data)
        auth_sessions.session_end(
            _django_request(request),
            response,
            refresh=serializer.validated_data.get("refresh"),
        )
        return response


class UserDetailApi(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema_serializer(component_name="UserDetail")
    class OutputSerializer(UserOutputSerializer):
        success = success_field()

        class Meta(UserOutputSerializer.Meta):
            fields = ["success", *UserOutputSerializer.Meta.fields]
            read_only_fields = fields

    @extend_schema_serializer(component_name="UserUpdateInput")
    class UpdateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150, required=False)
        timeZone = serializers.CharField(
            source="time_zone", max_length=64, required=False
        )

        def validate_timeZone(self, value: str) -> str:
            if not is_zone(value):
                raise serializers.ValidationError(
                    _("%(value)s is not a known time zone.") % {"value": value}
                )
            return value

        def validate(self, attrs: dict) -> dict:
            # Email and role are not the user's to change: say so rather than
            # silently dropping them.
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("This field cannot be changed.")] for name in unknown}
                )
            return attrs

    @extend_schema(
        tags=TAGS,
        summary="The logged-in user",
        responses={200: OutputSerializer, 401: ErrorOutputSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(request.user).data)

    @extend_schema(
        tags=TAGS,
        summary="Change the logged-in user's name or time zone",
        description=(
            "Only `name` and `timeZone` (an IANA name) can be changed; email and "
            "role cannot."
        ),
        request=UpdateInputSerializer,
        responses={
            200: OutputSerializer,
            400: ErrorOutputSerializer,
            401: ErrorOutputSerializer,
            403: ErrorOutputSerializer,
        },
    )
    def patch(self, request: Request) -> Response:
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(
            user=request.user, actor=request.user, **serializer.validated_data
        )
        return Response(self.OutputSerializer(user).data)


class TokenRefreshApi(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "dj_rest_auth"

    @extend_schema_serializer(component_name="TokenRefreshInput")
    class InputSerializer(serializers.Serializer):
        refresh = serializers.CharField(
            required=False,
            allow_blank=True,
            help_text="Overrides the `coaching-refresh` cookie when given.",
        )

    @extend_schema_serializer(component_name="TokenRefresh")
    class OutputSerializer(serializers.Serializer):
        success = success_field()
        access = serializers.CharField()
        accessExpiration = serializers.DateTimeField(source="access_expiration")

    @extend_schema(
        tags=TAGS,
        summary="Rotate the refresh token and get a new access token",
        description=(
            "Reads the refresh token from the `coaching-refresh` cookie (or the "
            "body), blacklists it, and sets a new refresh cookie and access cookie. "
            "A blacklisted, expired, missing or logged-out token is a 401. A "
            "rotated token presented again more than 30 s after its rotation was "
            "copied: every token of its user is revoked, as by a logout."
        ),
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: ErrorOutputSerializer,
            401: ErrorOutputSerializer,
            403: ErrorOutputSerializer,
            429: ErrorOutputSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        _enforce_csrf_on_cookies(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = serializer.validated_data.get("refresh") or request.COOKIES.get(
            rest_auth_settings.JWT_AUTH_REFRESH_COOKIE
        )
        refresh = services.refresh_token_rotate(token=token)
        auth_sessions.session_refresh_rotated(_django_request(request), refresh)
        access = refresh.access_token
        response = Response(
            self.OutputSerializer(
                {
                    "access": str(access),
                    "access_expiration": timezone.now()
                    + jwt_settings.ACCESS_TOKEN_LIFETIME,
                }
            ).data
        )
        set_jwt_cookies(response, access, refresh)
        return response
