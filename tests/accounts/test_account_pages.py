"""The account page (name, time zone, password change), password reset by
email, and the favicon."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.zones import COMMON_ZONES
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ACCOUNT = "/account/"
NEW_PASSWORD = "violet-kettle-harbour-42"


def test_account_page_needs_login(client):
    response = client.get(ACCOUNT)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/account/")


def test_account_page_is_linked_from_the_nav(client, any_user):
    client.force_login(any_user)

    html = client.get("/").content.decode()

    assert '<a href="/account/">Account</a>' in html


def test_account_page_shows_email_and_a_zone_picker_common_zones_first(
    client, client_user
):
    client.force_login(client_user)

    html = client.get(ACCOUNT).content.decode()

    assert f'value="{client_user.email}" readonly' in html
    assert 'name="time_zone" value="Europe/Zurich"' in html
    assert 'list="id_time_zone-list"' in html
    options = re.findall(r'<option value="([^"]+)">', html)
    assert tuple(options[: len(COMMON_ZONES)]) == COMMON_ZONES
    assert "Pacific/Auckland" in options  # every zone is searchable
    assert len(options) == len(set(options))


def test_account_page_saves_name_and_zone_and_pages_follow(
    client, client_user, coach, offering
):
    client.force_login(client_user)

    response = client.post(
        ACCOUNT, {"name": "Lena B.", "time_zone": "America/New_York"}
    )

    assert response.status_code == 302
    client_user.refresh_from_db()
    assert (client_user.name, client_user.time_zone) == ("Lena B.", "America/New_York")
    page = client.get(f"/coaches/{coach.pk}/").content.decode()
    assert "(America/New_York)" in page


def test_account_page_refuses_an_unknown_zone(client, client_user):
    client.force_login(client_user)

    response = client.post(ACCOUNT, {"name": "X", "time_zone": "Mars/Olympus_Mons"})

    assert response.status_code == 200
    assert '<small id="id_time_zone_error">' in response.content.decode()
    client_user.refresh_from_db()
    assert client_user.time_zone == "Europe/Zurich"


def test_password_change_keeps_the_session_and_takes_the_new_password(
    client, client_user
):
    client.force_login(client_user)

    response = client.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )

    assert response["Location"] == ACCOUNT
    assert client.get(ACCOUNT).status_code == 200
    client_user.refresh_from_db()
    assert client_user.check_password(NEW_PASSWORD)


def test_password_change_wrong_old_password_is_refused(client, client_user):
    client.force_login(client_user)

    response = client.post(
        "/account/password/",
        {
            "old_password": "wrong",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 200
    assert '<small id="id_old_password_error">' in response.content.decode()


def test_password_reset_answers_the_same_for_known_and_unknown_email(client_user):
    answers = []
    for email in (client_user.email, "nobody@example.com"):
        browser = Client()
        response = browser.post("/password-reset/", {"email": email})
        done = browser.get(response["Location"])
        answers.append(
            (
                response.status_code,
                response["Location"],
                re.sub(r'"X-CSRFToken": "[^"]+"', "", done.content.decode()),
            )
        )

    assert answers[0] == answers[1]
    assert "If an account uses that address" in answers[0][2]
    [message] = mail.outbox
    assert message.to == [client_user.email]


def test_password_reset_link_sets_a_new_password(client, client_user):
    client.post("/password-reset/", {"email": client_user.email})
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[0].body)

    form = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form.content.decode()
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response["Location"] == "/password-reset/done/"
    client_user.refresh_from_db()
    assert client_user.check_password(NEW_PASSWORD)


def test_login_page_links_to_password_reset(client):
    assert 'href="/password-reset/"' in client.get("/login/").content.decode()


def test_favicon_ico_leads_to_the_svg_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith(".svg")
    assert (
        '<link rel="icon" href="/static/favicon.svg"'
        in client.get("/login/").content.decode()
    )
