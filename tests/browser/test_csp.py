"""The admin and docs pages work in a real browser under the Content-Security-Policy."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import staff


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
    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def test_admin_swagger_ui_and_redoc_run_under_the_policy(browser, console_url, login):
    login(staff("root", is_superuser=True))
    browser.get(f"{console_url}/admin/django_q/schedule/add/")
    wait_for(browser, "select[name=func]")
    assert csp_violations(browser) == []

    browser.get(f"{console_url}/api/docs/")
    # Swagger UI renders the schema's operations only if its start script ran.
    wait_for(browser, ".swagger-ui .opblock")
    assert csp_violations(browser) == []

    browser.get(f"{console_url}/api/redoc/")
    wait_for(browser, "[data-section-id]", timeout=60)  # Redoc rendered the operations
    assert csp_violations(browser) == []
