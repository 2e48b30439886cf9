"""One date format in the console: `2026-11-27 03:52 UTC`, in lists and detail pages."""

import datetime as dt
import re

import pytest
from django.utils import formats

from support.models import Digest, Message
from tests.console import data

pytestmark = pytest.mark.django_db
WHEN = dt.datetime(2026, 11, 27, 3, 52, 10, tzinfo=dt.UTC)
ENGLISH = re.compile(r"\b(a\.m\.|p\.m\.|midnight|noon|Nov\.)")


def test_the_format_is_utc_minutes():
    assert formats.date_format(WHEN, "DATETIME_FORMAT") == "2026-11-27 03:52 UTC"
    assert formats.localize(WHEN) == "2026-11-27 03:52 UTC"
    assert formats.date_format(WHEN.date()) == "2026-11-27"


def test_lists_and_detail_pages_use_it(viewer_client):
    digest = data.digests(0)
    Digest.objects.filter(pk=digest.pk).update(created_at=WHEN)
    Message.objects.update(first_seen=WHEN, last_seen=WHEN, date=WHEN)
    message = Message.objects.first()
    for url in (
        "/admin/support/digest/",
        f"/admin/support/digest/{digest.pk}/change/",
        "/admin/support/message/",
        f"/admin/support/message/{message.pk}/change/",
    ):
        page = viewer_client.get(url).content.decode()
        assert "2026-11-27 03:52 UTC" in page, url
        assert not ENGLISH.search(page), (url, ENGLISH.search(page))
