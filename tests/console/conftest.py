"""Console fixtures: staff users in the console groups, logged-in admin clients."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from echopilot.access.groups import EDITORS, VIEWERS
from tests.conftest import client_for, staff


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
