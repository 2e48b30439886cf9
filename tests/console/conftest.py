"""Console fixtures: staff users in the console groups, logged-in admin clients."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from echopilot.access.groups import EDITORS, VIEWERS


def staff(username: str, group: str | None = None, **extra) -> User:
    user = User.objects.create_user(username, password="pw-console-1", is_staff=True, **extra)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer(db) -> User:
    return staff("viewer", VIEWERS)


@pytest.fixture
def editor(db) -> User:
    return staff("editor", EDITORS)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return client_for(viewer)


@pytest.fixture
def editor_client(editor) -> Client:
    return client_for(editor)


@pytest.fixture
def superuser_client(db) -> Client:
    return client_for(staff("root", is_superuser=True))


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Hash test passwords cheaply (the default hasher takes ~0.3 s per user)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
