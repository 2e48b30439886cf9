"""The console in a real browser: the overview, a dry-run digest, a viewer without buttons."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.console import data


def card_text(browser, name: str) -> str:
    return browser.find_element(By.ID, f"card-{name}").text


def test_editor_sees_the_overview(browser, console_url, editor, login, screenshot):
    data.world(200)
    login(editor)
    browser.get(f"{console_url}/")  # / redirects to the overview
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "card-scheduler")))
    assert browser.current_url == f"{console_url}/admin/"
    assert browser.title == "Overview | EchoPilot Ops"
    assert "SLO breach: P95=1500ms, Success=0.96" in card_text(browser, "incidents")
    assert "Sample ratio mismatch" in card_text(browser, "experiments")
    assert "Site down for everyone" in card_text(browser, "support")
    assert "EUR a month" in card_text(browser, "costs")
    assert "support.digest" in card_text(browser, "scheduler")
    # Readable at 1366 px: the page does not scroll sideways.
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 1366
    screenshot("console-overview-editor")
    browser.execute_script("document.getElementById('card-experiments').scrollIntoView()")
    screenshot("console-overview-editor-lower")


def test_editor_runs_a_dry_run_digest_and_sees_its_items(
    browser, console_url, editor, login, screenshot
):
    login(editor)
    browser.get(f"{console_url}/admin/support/digest/")
    browser.find_element(By.ID, "id_dry_run").click()
    browser.find_element(By.ID, "run-digest").click()
    WebDriverWait(browser, 15).until(ec.url_matches(r"/admin/support/digest/\d+/change/$"))
    page = browser.find_element(By.ID, "content").text
    assert (
        "(dry run: sample messages, not stored)"
        in browser.find_element(By.CLASS_NAME, "messagelist").text
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "table.ep-digest-items tbody tr")
    assert len(rows) == 3
    assert "Dashboard down since 09:00" in page and "sample" in rows[0].text
    screenshot("console-support-dry-run-digest")


def test_viewer_finds_no_action_buttons(browser, console_url, viewer, login, screenshot):
    data.world(5)
    data.digests(0, tag="v")
    login(viewer)
    for path, name in (
        ("/admin/", "overview"),
        ("/admin/support/digest/", "support-digests"),
        ("/admin/costs/costreport/", "costs-reports"),
    ):
        browser.get(f"{console_url}{path}")
        WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "content")))
        # The changelist itself is a POST form (for bulk actions): it must offer none.
        forms = browser.find_elements(
            By.CSS_SELECTOR, "#content form[method=post]:not(#changelist-form)"
        )
        # Searching and filtering are GETs; anything that submits a POST is an action.
        buttons = [
            b.get_attribute("outerHTML")
            for b in browser.find_elements(
                By.CSS_SELECTOR, "form[method=post] button, form[method=post] [type=submit]"
            )
            if "logout-form"
            not in (b.find_element(By.XPATH, "./ancestor::form").get_attribute("id") or "")
        ]
        assert not forms, (path, [f.get_attribute("action") for f in forms])
        assert not buttons, (path, buttons)
        assert not browser.find_elements(By.NAME, "action"), path  # no bulk-action menu
        screenshot(f"console-viewer-{name}")
