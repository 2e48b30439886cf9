"""The incident page in a real browser: an editor acknowledges and resolves it from
its page (the timeline shows both); a viewer finds no buttons."""

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from incidents import services
from incidents.models import Incident


@pytest.fixture
def incident(log_dir, monkeypatch):
    """An open incident, opened by a real scan of a breaching SLO report."""
    import costs.selectors

    monkeypatch.setattr(costs.selectors, "latest_budget_status", lambda: None)
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "slo_report.json").write_text(json.dumps({"p95_ms": 1500, "success_rate": 0.96}))
    return Incident.objects.get(pk=services.scan(actor="cli")["incident_id"])


def timeline_kinds(browser) -> list[str]:
    rows = browser.find_elements(By.CSS_SELECTOR, "#incident-timeline tbody tr")
    return [row.find_element(By.CSS_SELECTOR, ".kind").text for row in rows]


def test_editor_acknowledges_and_resolves_from_the_incident_page(
    browser, console_url, editor, login, screenshot, incident
):
    login(editor)
    browser.get(f"{console_url}/admin/incidents/incident/{incident.pk}/change/")
    assert "SLO breach: P95=1500ms, Success=0.96" in browser.page_source
    browser.find_element(By.ID, "id_ack_note").send_keys("on it")
    browser.find_element(By.CSS_SELECTOR, "input[name=acknowledge]").click()
    wait = WebDriverWait(browser, 15)
    wait.until(ec.text_to_be_present_in_element((By.ID, "incident-timeline"), "Acknowledged by"))
    browser.find_element(By.ID, "id_resolve_note").send_keys("restarted the pool")
    browser.find_element(By.CSS_SELECTOR, "input[name=resolve]").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "incident-timeline"), "Resolved by"))
    kinds = timeline_kinds(browser)
    assert kinds[0] == "opened"
    assert "acknowledged" in kinds and "resolved" in kinds
    assert kinds.index("acknowledged") < kinds.index("resolved")
    text = browser.find_element(By.ID, "incident-timeline").text
    assert "on it" in text and "restarted the pool" in text
    assert not browser.find_elements(By.CSS_SELECTOR, "input[name=resolve]")
    timeline = browser.find_element(By.ID, "incident-timeline-module")
    browser.execute_script("arguments[0].scrollIntoView({behavior: 'instant'});", timeline)
    screenshot("incidents-acknowledged-and-resolved")
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_by == "admin:editor"


def test_viewer_finds_no_buttons(browser, console_url, viewer, login, screenshot, incident):
    login(viewer)
    browser.get(f"{console_url}/admin/incidents/incident/{incident.pk}/change/")
    assert browser.find_elements(By.ID, "incident-timeline")
    for name in ("acknowledge", "resolve", "add_note"):
        assert not browser.find_elements(By.CSS_SELECTOR, f"input[name={name}]")
    screenshot("incidents-viewer")


def test_the_list_fits_1366_pixels_with_the_active_incident_first(
    browser, console_url, editor, login, screenshot, incident
):
    long = [f"Production alert: {'very_long_alert_name_' * 4}{n}" for n in range(12)]
    older = Incident.objects.create(
        status="resolved",
        active=False,
        severity="HIGH",
        issue_keys=[f"alert:{n}" for n in range(12)],
        details=long,
        opened_at=incident.opened_at.replace(year=2025),
        opened_by="schedule",
        last_seen_at=incident.opened_at.replace(year=2025),
        resolved_at=incident.opened_at.replace(year=2025),
        resolved_by="schedule",
        resolved_how="recovered",
    )
    login(editor)
    browser.get(f"{console_url}/admin/incidents/incident/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert str(incident.pk) in rows[0].text and str(older.pk) in rows[1].text
    assert rows[0].find_elements(By.CSS_SELECTOR, ".incident-active")
    assert rows[0].find_element(By.CSS_SELECTOR, ".sev").text == "MEDIUM"
    width = browser.execute_script("return document.documentElement.scrollWidth;")
    assert width <= 1366, f"the page is {width} px wide"
    results = browser.find_element(By.CSS_SELECTOR, "#changelist-form .results")
    inner, shown = browser.execute_script(
        "return [arguments[0].scrollWidth, arguments[0].clientWidth];", results
    )
    assert inner <= shown, f"the list scrolls sideways: {inner} px in {shown} px"
    screenshot("incidents-list")
