"""Browser harness: headless Chromium driven by Selenium against a live server.

Fixtures (CONTRACTS.md interface 4):
- `browser`: a Selenium WebDriver (headless Chromium, 1366x900), cookies cleared per test;
  `browser.get_log("browser")` returns the console messages since the test began;
- `console_url`: the live server's base URL (no trailing slash);
- `editor`, `viewer`: staff users in the groups "Ops editors" and "Ops viewers";
- `login(user)`: log the browser in through the admin login form;
- `screenshot(name)`: save `var/screenshots/<name>.png` and return its path.

Every test under tests/browser/ is marked `external`. Without Chromium and
chromedriver the tests are skipped, except in CI (`CI=true`), where they fail.
A failing test also leaves `var/screenshots/FAILED-<test>.png`.
"""

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import STAFF_PASSWORD, staff

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
WINDOW = (1366, 900)
PASSWORD = STAFF_PASSWORD  # what `staff()` gives every user
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.external)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _missing_binaries() -> list[str]:
    return [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]


@pytest.fixture(scope="session")
def _driver() -> Iterator:
    missing = _missing_binaries()
    if missing:
        reason = (
            f"browser tests need {' and '.join(missing)} (apt-get install chromium chromium-driver)"
        )
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI containers run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console messages
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_window_size(*WINDOW)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def browser(_driver, live_server, request):
    """The shared headless Chromium, logged out and on a blank page for each test."""
    _driver.delete_all_cookies()
    _driver.get("about:blank")
    _driver.get_log("browser")  # drop console messages left by an earlier test
    yield _driver
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        _driver.save_screenshot(str(SCREENSHOTS / f"FAILED-{name}.png"))
    # Leave no session behind for the next test (another user may log in).
    _driver.delete_all_cookies()


@pytest.fixture
def console_url(live_server) -> str:
    """Base URL of the live server (the test uses a transactional database)."""
    return live_server.url.rstrip("/")


@pytest.fixture
def editor(live_server):
    """A staff user in "Ops editors" (password: `PASSWORD`)."""
    from echopilot.access.groups import EDITORS

    return staff("editor", EDITORS)


@pytest.fixture
def viewer(live_server):
    """A staff user in "Ops viewers" (password: `PASSWORD`)."""
    from echopilot.access.groups import VIEWERS

    return staff("viewer", VIEWERS)


@pytest.fixture
def login(browser, console_url) -> Callable:
    """Return `login(user, password=PASSWORD)`: sign in through the admin login form."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def do_login(user, password: str = PASSWORD) -> None:
        browser.delete_all_cookies()
        browser.get(f"{console_url}/admin/login/?next=/admin/")
        browser.find_element(By.NAME, "username").send_keys(user.get_username())
        browser.find_element(By.NAME, "password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "form#login-form [type=submit]").click()
        # Signed in once the admin's user tools show on a page other than the
        # login page (`?next=/admin/` alone must not count: the URL matches early).
        WebDriverWait(browser, 15).until(
            lambda d: "/admin/login/" not in d.current_url and d.find_elements(By.ID, "user-tools")
        )

    return do_login


@pytest.fixture
def screenshot(browser) -> Callable[[str], Path]:
    """Return `screenshot(name)`: save `var/screenshots/<name>.png` (the whole window)."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
        assert browser.save_screenshot(str(path)), f"could not save {path}"
        return path

    return take
