"""Cache-Control on the API, a Content-Security-Policy the admin and docs pages satisfy."""

import re

import pytest

from echopilot.middleware import PAGE_POLICY

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


@pytest.mark.parametrize(
    "path", ["/api/ping", "/api/flags/get", "/api/incidents", "/api/nowhere", "/api/health"]
)
def test_api_responses_are_never_stored(api, path):
    response = api.get(path)
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_refusals_are_not_stored_either(anon):
    response = anon.get("/api/ping")
    assert response.status_code == 401 and "no-store" in response["Cache-Control"]


def test_metrics_answers_are_never_stored(api, anon, settings):
    # /metrics takes a key but lies outside /api/: its scrapes and refusals alike.
    scrape = api.get("/metrics")
    refused = anon.get("/metrics")
    settings.METRICS_ENABLED = False
    off = api.get("/metrics")
    assert [r.status_code for r in (scrape, refused, off)] == [200, 401, 404]
    for response in (scrape, refused, off):
        assert "no-store" in response["Cache-Control"]
    assert "Cache-Control" not in anon.get("/metrics/nowhere")  # not a keyed answer


def test_ofrep_responses_are_never_stored(api):
    response = api.post("/ofrep/v1/evaluate/flags", {}, format="json")
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/django_q/schedule/add/",
        "/admin/incidents/incident/",
        "/admin/echopilot/apikey/add/",
        "/api/docs/",
        "/api/redoc/",
    ],
)
def test_admin_and_docs_pages_carry_the_policy_and_no_inline_script(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == PAGE_POLICY
    assert (
        "script-src 'self'" in PAGE_POLICY
        and "unsafe-inline" not in PAGE_POLICY.split("script-src")[1].split(";")[0]
    )
    page = response.content.decode()
    assert not INLINE_SCRIPT.findall(page), INLINE_SCRIPT.findall(page)
    assert not EVENT_HANDLER.findall(page)


def test_the_login_page_carries_the_policy(client):
    response = client.get("/admin/login/")
    assert response["Content-Security-Policy"] == PAGE_POLICY


def test_swagger_ui_start_script_is_served_by_the_docs_view(admin_client):
    page = admin_client.get("/api/docs/").content.decode()
    src = re.search(r'<script src="([^"]*script=[^"]*)"', page).group(1)
    script = admin_client.get(src.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_every_admin_page_keeps_to_the_policy(admin_client):
    """Every registered model's list and add page: no inline script, no on*= handler
    (a template added later that needs one would be blocked by the browser)."""
    from django.contrib import admin
    from django.urls import NoReverseMatch, reverse

    checked = 0
    for model in admin.site._registry:
        opts = model._meta
        for view in ("changelist", "add"):
            try:
                url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}")
            except NoReverseMatch:
                continue
            response = admin_client.get(url)
            if response.status_code != 200:
                continue  # e.g. an add page the model does not offer (403)
            page = response.content.decode()
            assert not INLINE_SCRIPT.findall(page), (url, INLINE_SCRIPT.findall(page))
            assert not EVENT_HANDLER.findall(page), (url, EVENT_HANDLER.findall(page))
            assert response["Content-Security-Policy"] == PAGE_POLICY
            checked += 1
    assert checked >= 20
