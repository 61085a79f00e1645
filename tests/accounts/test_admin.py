"""The user admin: list, search, filter, add and change with email login."""

import pytest

from accounts.models import User
from tests.factories import ClientFactory, CoachFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"
ADD = "/admin/accounts/user/add/"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _change_data(user: User, **overrides) -> dict:
    data = {
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "is_active": "on" if user.is_active else "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        **overrides,
    }
    return {key: value for key, value in data.items() if value != ""}


def test_user_admin_changelist_lists_users_with_roles(admin_client, client_user, coach):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "client@example.com" in html
    assert "coach@example.com" in html
    assert "Coach" in html


def test_user_admin_search_by_email_and_name(admin_client):
    ClientFactory(email="ada@example.com", name="Ada Lovelace")
    ClientFactory(email="alan@example.com", name="Alan Turing")

    by_email = admin_client.get(CHANGELIST, {"q": "ada@"}).context["cl"].result_list
    by_name = admin_client.get(CHANGELIST, {"q": "Turing"}).context["cl"].result_list

    assert [u.email for u in by_email] == ["ada@example.com"]
    assert [u.email for u in by_name] == ["alan@example.com"]


def test_user_admin_filter_by_role(admin_client, client_user):
    CoachFactory(email="c1@example.com")

    result = admin_client.get(CHANGELIST, {"role__exact": "coach"}).context["cl"]

    assert [u.email for u in result.result_list] == ["c1@example.com"]


@pytest.mark.parametrize("fixture", ["client_user", "coach"])
def test_user_admin_non_staff_is_sent_to_admin_login(client, request, fixture):
    client.force_login(request.getfixturevalue(fixture))

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_user_admin_add_creates_user_with_lowercased_email(admin_client):
    response = admin_client.post(
        ADD,
        {
            "email": "New.Coach@Example.com",
            "name": "New Coach",
            "role": "coach",
            "usable_password": "true",
            "password1": "violet-kettle-harbour-42",
            "password2": "violet-kettle-harbour-42",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new.coach@example.com")
    assert (user.name, user.role, user.is_staff) == ("New Coach", "coach", False)
    assert user.check_password("violet-kettle-harbour-42")


def test_user_admin_add_duplicate_email_in_other_case_is_refused(
    admin_client, client_user
):
    response = admin_client.post(
        ADD,
        {
            "email": "CLIENT@example.com",
            "name": "Dup",
            "role": "client",
            "usable_password": "true",
            "password1": "violet-kettle-harbour-42",
            "password2": "violet-kettle-harbour-42",
        },
    )

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert User.objects.filter(email__iexact="client@example.com").count() == 1


def test_user_admin_change_name_and_role(admin_client, client_user):
    response = admin_client.post(
        f"{CHANGELIST}{client_user.pk}/change/",
        _change_data(client_user, name="Renamed", role="coach"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    client_user.refresh_from_db()
    assert (client_user.name, client_user.role) == ("Renamed", "coach")


def test_user_admin_change_staff_without_admin_role_is_refused(
    admin_client, client_user
):
    response = admin_client.post(
        f"{CHANGELIST}{client_user.pk}/change/",
        _change_data(client_user, is_staff="on"),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"is_staff": ["Only users with the admin role may be staff."]}
    client_user.refresh_from_db()
    assert client_user.is_staff is False


def test_user_admin_change_page_renders(admin_client, coach):
    response = admin_client.get(f"{CHANGELIST}{coach.pk}/change/")

    assert response.status_code == 200
    assert "coach@example.com" in response.content.decode()
