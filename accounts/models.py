"""Users: the email address is the login; a role says what they may do."""

import uuid

from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from accounts.zones import default_time_zone, validate_time_zone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("role", User.Role.CLIENT)
        fields["is_staff"] = False
        fields["is_superuser"] = False
        return self._create(email, password, **fields)

    def create_superuser(
        self, email: str, password: str | None = None, **fields
    ) -> "User":
        fields.update(role=User.Role.ADMIN, is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)

    def get_by_natural_key(self, email: str) -> "User":
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    class Role(models.TextChoices):
        CLIENT = "client", _("Client")
        COACH = "coach", _("Coach")
        ADMIN = "admin", _("Admin")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.CLIENT)
    # The zone every time is shown in to this person (pages, emails,
    # notifications); set from the browser at registration.
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
    )
    is_active = models.BooleanField(default=True)
    # False from a sign-up until its emailed link is followed (the account is
    # inactive meanwhile): only the owner of the address can start using it.
    email_verified = models.BooleanField(_("email verified"), default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Bumped to end every JWT, session and socket of the user at once (logout,
    # a replayed refresh token). Each JWT carries the generation it was issued
    # in (``accounts.tokens``) and the session hash mixes it in, so the check
    # costs nothing: the user row is loaded on every authenticated request.
    token_generation = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["client", "coach", "admin"]),
                name="user_role_valid",
            ),
            # Only admins may be staff: a client or coach never reaches admin.
            models.CheckConstraint(
                condition=models.Q(is_staff=False) | models.Q(role="admin"),
                name="user_staff_is_admin",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def _get_session_auth_hash(self, secret=None) -> str:
        # Django keeps a session only while this HMAC matches the one stored at
        # login (also with SECRET_KEY_FALLBACKS, hence the private hook rather
        # than get_session_auth_hash). Generation 0 keeps Django's own value,
        # so sessions from before this field existed survive its migration.
        if not self.token_generation:
            return super()._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "accounts.User.session_auth_hash",
            f"{self.password}:{self.token_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def is_client(self) -> bool:
        return self.role == self.Role.CLIENT

    @property
    def is_coach(self) -> bool:
        return self.role == self.Role.COACH

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN and self.is_staff
