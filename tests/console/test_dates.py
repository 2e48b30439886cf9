"""One date format in the console: `2026-11-27 03:52 UTC`, in lists and detail pages."""

import datetime as dt
import re

import pytest
from django.utils import formats

from flags import services
from flags.models import Flag, FlagChange, FlagUsage
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


# The time in any other form: with seconds (03:52:10) or without its zone.
OTHER_FORMS = re.compile(r"2026-11-27 03:52(?! UTC)")


def test_flag_pages_use_it(viewer_client, editor_client):
    services.flag_set(key="ui.dated", actor="cli", create=True, value=False)
    services.flag_set(key="ui.dated", actor="cli", value=True)
    flag = Flag.objects.get(key="ui.dated")
    Flag.objects.filter(pk=flag.pk).update(updated_at=WHEN, created_at=WHEN)
    FlagChange.objects.filter(key="ui.dated").update(ts=WHEN)
    hour = WHEN.replace(minute=0, second=0)
    FlagUsage.objects.create(
        key="ui.dated", variant="default", reason="STATIC", hour=hour, count=1, last_at=WHEN
    )
    change = FlagChange.objects.filter(key="ui.dated", field="value").get()
    pages = {
        "/admin/flags/flag/": ("last change", "last evaluated"),
        f"/admin/flags/flag/{flag.pk}/change/": ("history table",),
        "/admin/flags/flagchange/?key=ui.dated": ("history list",),
    }
    for url, what in pages.items():
        page = viewer_client.get(url).content.decode()
        assert page.count("2026-11-27 03:52 UTC") >= len(what), (url, what)
        assert not OTHER_FORMS.search(page), (url, OTHER_FORMS.search(page))
        assert not ENGLISH.search(page), (url, ENGLISH.search(page))
    confirm = editor_client.get(f"/admin/flags/flagchange/{change.pk}/revert/").content.decode()
    assert "2026-11-27 03:52 UTC" in confirm and not OTHER_FORMS.search(confirm)


def test_the_digest_title_uses_it(viewer_client):
    digest = data.digests(0)
    Digest.objects.filter(pk=digest.pk).update(created_at=WHEN)
    digest.refresh_from_db()
    assert str(digest) == "Digest 2026-11-27 03:52 UTC: 3 messages, 2 new"
    page = viewer_client.get(f"/admin/support/digest/{digest.pk}/change/").content.decode()
    assert "Digest 2026-11-27 03:52 UTC: 3 messages" in page  # the breadcrumb


def test_schedule_and_cost_report_titles_use_it():
    from zoneinfo import ZoneInfo

    from costs.models import CostReport
    from flags.models import FlagSchedule

    berlin = WHEN.astimezone(ZoneInfo("Europe/Berlin"))  # 04:52 there: shown in UTC
    assert (
        str(FlagSchedule(pk=7, key="ui.dated", at=berlin)) == "#7 ui.dated at 2026-11-27 03:52 UTC"
    )
    report = CostReport(created_at=WHEN, total_monthly_usd=1.5, currency="USD")
    assert str(report) == "2026-11-27 03:52 UTC 1.50 USD"
