"""The harness itself: a browser logs in through the admin form and is recognised."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def test_editor_logs_in_and_sees_the_admin(browser, console_url, editor, login, screenshot):
    login(editor)
    assert browser.current_url.startswith(f"{console_url}/admin/")
    assert "editor" in browser.find_element(By.ID, "user-tools").text.lower()
    path = screenshot("harness-editor-admin")
    assert path.stat().st_size > 1000


def test_wrong_password_stays_on_the_login_page(browser, console_url, viewer):
    browser.get(f"{console_url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(viewer.username)
    browser.find_element(By.NAME, "password").send_keys("not-the-password")
    browser.find_element(By.CSS_SELECTOR, "form#login-form [type=submit]").click()
    # The click does not wait for the answer: wait for the refused form to come back.
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".errornote"))
    assert "/admin/login/" in browser.current_url
    assert not browser.find_elements(By.ID, "user-tools")
