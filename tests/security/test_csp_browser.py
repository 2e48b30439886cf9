"""The admin and docs pages work in a real browser under the Content-Security-Policy."""

import os
import shutil

import pytest
from django.contrib.auth.models import User

pytestmark = [pytest.mark.external, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromedriver are required in CI")
        pytest.skip("chromium/chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def csp_violations(driver) -> list[str]:
    """Policy violations in the console, except Redoc's "powered by" logo from its CDN
    (an image the page does not need; blocking it is the policy working)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if ("Content Security Policy" in entry["message"] or "Refused to" in entry["message"])
        and "cdn.redoc.ly" not in entry["message"]
    ]


def wait_for(driver, css: str, timeout: float = 30):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def test_admin_swagger_ui_and_redoc_run_under_the_policy(browser, live_server):
    from selenium.webdriver.common.by import By

    User.objects.create_superuser("root", "root@example.com", "pw-0123456789")
    browser.get(live_server.url + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("root")
    browser.find_element(By.NAME, "password").send_keys("pw-0123456789")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(browser, "#user-tools")
    browser.get(live_server.url + "/admin/django_q/schedule/add/")
    wait_for(browser, "select[name=func]")
    assert csp_violations(browser) == []

    browser.get(live_server.url + "/api/docs/")
    # Swagger UI renders the schema's operations only if its start script ran.
    wait_for(browser, ".swagger-ui .opblock")
    assert csp_violations(browser) == []

    browser.get(live_server.url + "/api/redoc/")
    wait_for(browser, "[data-section-id]", timeout=60)  # Redoc rendered the operations
    assert csp_violations(browser) == []
