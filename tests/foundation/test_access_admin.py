"""The API keys admin: superusers only, the secret shown once, rotate and revoke actions."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from rest_framework.test import APIClient

from echopilot import access
from echopilot.models import ApiKey
from tests.conftest import client_for, read_ndjson, staff

pytestmark = pytest.mark.django_db

ADD = reverse("admin:echopilot_apikey_add")
LIST = reverse("admin:echopilot_apikey_changelist")


@pytest.fixture
def superuser_client():
    return client_for(staff("alice", is_superuser=True))  # acts as "admin:alice"


@pytest.fixture
def editor_client():
    """A staff user in a group holding every permission there is (the console's editors)."""
    Group.objects.create(name="editors").permissions.set(Permission.objects.all())
    return client_for(staff("ed", "editors"))


def ping(secret: str) -> int:
    return APIClient().get("/api/ping", HTTP_X_DASH_KEY=secret).status_code


def create(client, **fields):
    data = {"name": "shop-web", "scopes": ["evaluate"], "expires": "", "rate": "", **fields}
    return client.post(ADD, data)


def shown_secret(response) -> str:
    page = response.content.decode()
    start = page.index('id="apikey-secret"')
    return page[page.index(">", start) + 1 : page.index("</code>", start)]


def test_creating_a_key_shows_its_secret_once(superuser_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = create(superuser_client, scopes=["read", "evaluate"], expires="30d")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = shown_secret(response)
    assert secret.startswith("ep_") and ping(secret) == 200
    key = ApiKey.objects.get()
    assert key.created_by == "admin:alice" and key.scopes == ["evaluate", "read"]
    assert key.expires_at is not None
    # Never again: not in the list, the key's page, the history, or the next page.
    pages = [
        superuser_client.get(LIST),
        superuser_client.get(reverse("admin:echopilot_apikey_change", args=[key.pk])),
        superuser_client.get(reverse("admin:echopilot_apikey_history", args=[key.pk])),
        superuser_client.get(reverse("admin:index")),
    ]
    for page in pages:
        assert page.status_code == 200
        assert secret not in page.content.decode()
        assert key.secret_hash not in page.content.decode()
    assert key.prefix in pages[0].content.decode()


@pytest.mark.parametrize(
    "fields, text",
    [
        ({"scopes": []}, "This field is required"),
        ({"scopes": ["root"]}, "Select a valid choice"),
        ({"expires": "2001-01-01"}, "in the past"),
        ({"expires": "whenever"}, "neither a duration"),
        ({"name": "Shop Web"}, "not allowed"),
        ({"rate": "many"}, "not a rate"),
    ],
)
def test_bad_input_is_shown_on_the_form_and_nothing_is_stored(
    superuser_client, log_dir, fields, text
):
    response = create(superuser_client, **fields)
    assert response.status_code == 200
    assert text in response.content.decode()
    assert not ApiKey.objects.exists() and read_ndjson(log_dir, "access") == []


def test_a_taken_name_is_refused(superuser_client):
    access.apikey_create(name="shop-web", scopes=["read"], actor="cli")
    response = create(superuser_client)
    assert "already exists" in response.content.decode()
    assert ApiKey.objects.count() == 1


def test_revoke_action_asks_then_revokes(superuser_client):
    secret = access.apikey_create(name="shop-web", scopes=["evaluate"], actor="cli").secret
    key = ApiKey.objects.get()
    ask = superuser_client.post(LIST, {"action": "revoke_keys", "_selected_action": [key.pk]})
    assert ask.status_code == 200 and "cannot be restored" in ask.content.decode()
    assert ApiKey.objects.get().revoked_at is None
    done = superuser_client.post(
        LIST, {"action": "revoke_keys", "_selected_action": [key.pk], "confirm": "yes"}
    )
    assert done.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == "admin:alice"
    assert ping(secret) == 401


def test_rotate_action_shows_the_new_secret_once(superuser_client):
    old = access.apikey_create(name="shop-web", scopes=["evaluate"], actor="cli").secret
    key = ApiKey.objects.get()
    form = {"action": "rotate_key", "_selected_action": [key.pk]}
    ask = superuser_client.post(LIST, form)
    assert 'name="grace"' in ask.content.decode()
    done = superuser_client.post(LIST, {**form, "confirm": "yes", "grace": "1h"})
    new = shown_secret(done)
    assert new != old and ping(new) == 200 and ping(old) == 200
    assert "no-store" in done["Cache-Control"]
    assert new not in superuser_client.get(LIST).content.decode()
    bad = superuser_client.post(LIST, {**form, "confirm": "yes", "grace": "99d"}, follow=True)
    assert "--grace must lie between" in bad.content.decode()


def test_rotate_takes_one_key_at_a_time(superuser_client):
    for name in ("a", "b"):
        access.apikey_create(name=name, scopes=["evaluate"], actor="cli")
    pks = list(ApiKey.objects.values_list("pk", flat=True))
    response = superuser_client.post(
        LIST, {"action": "rotate_key", "_selected_action": pks, "confirm": "yes"}, follow=True
    )
    assert "Rotate one key at a time." in response.content.decode()
    assert not ApiKey.objects.exclude(rotated_at=None).exists()


def test_keys_are_never_edited_or_deleted_in_the_admin(superuser_client):
    access.apikey_create(name="shop-web", scopes=["evaluate"], actor="cli")
    key = ApiKey.objects.get()
    page = superuser_client.get(reverse("admin:echopilot_apikey_change", args=[key.pk]))
    assert 'name="_save"' not in page.content.decode()
    superuser_client.post(
        reverse("admin:echopilot_apikey_change", args=[key.pk]), {"name": "renamed"}
    )
    assert superuser_client.get(LIST).content.decode().count("delete_selected") == 0
    delete = superuser_client.post(reverse("admin:echopilot_apikey_delete", args=[key.pk]))
    assert delete.status_code == 403
    assert ApiKey.objects.get().name == "shop-web"


def test_no_group_opens_the_keys_page(editor_client):
    access.apikey_create(name="shop-web", scopes=["evaluate"], actor="cli")
    key = ApiKey.objects.get()
    index = editor_client.get(reverse("admin:index")).content.decode()
    assert LIST not in index
    for url in (LIST, ADD, reverse("admin:echopilot_apikey_change", args=[key.pk])):
        assert editor_client.get(url).status_code == 403, url
    assert create(editor_client, name="sneaky").status_code == 403
    response = editor_client.post(
        LIST, {"action": "revoke_keys", "_selected_action": [key.pk], "confirm": "yes"}
    )
    assert response.status_code == 403
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().revoked_at is None


def test_the_model_defines_no_permission_to_grant():
    assert not Permission.objects.filter(content_type__model="apikey").exists()
