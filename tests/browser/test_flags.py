"""The flags console in a real browser: an editor flips a flag, then reverts it (confirmed),
and reverts several changes at once through the bulk action's confirmation page."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from flags import services
from flags.models import Flag, FlagChange


def test_an_editor_toggles_a_flag_and_reverts_it(browser, console_url, editor, login, screenshot):
    services.flag_set(key="ui.new_dashboard", actor="config", create=True, value=False)
    flag = Flag.objects.get(key="ui.new_dashboard")
    login(editor)
    browser.get(f"{console_url}/admin/flags/flag/")
    row = browser.find_element(By.XPATH, "//tr[.//a[text()='ui.new_dashboard']]")
    assert "false" in row.text
    screenshot("flags-list")

    row.find_element(By.XPATH, ".//button[normalize-space()='Turn on']").click()
    WebDriverWait(browser, 15).until(
        ec.text_to_be_present_in_element(
            (By.CSS_SELECTOR, "ul.messagelist"),
            "is now true",  # the admin capitalises the first letter
        )
    )
    row = browser.find_element(By.XPATH, "//tr[.//a[text()='ui.new_dashboard']]")
    assert "true" in row.text and "Turn off" in row.text
    flag.refresh_from_db()
    assert flag.value is True and flag.updated_by == "admin:editor"
    screenshot("flags-toggled")

    change = FlagChange.objects.filter(key="ui.new_dashboard", field="value").first()
    browser.get(f"{console_url}/admin/flags/flag/{flag.pk}/change/")
    browser.find_element(By.CSS_SELECTOR, f"a[href$='/flagchange/{change.pk}/revert/']").click()
    WebDriverWait(browser, 15).until(ec.title_contains("Revert change"))
    page = browser.find_element(By.ID, "content").text
    assert "false" in page and "true" in page and "value" in page  # old -> new of the change
    screenshot("flags-revert-confirm")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value^='Yes, revert']").click()
    WebDriverWait(browser, 15).until(
        ec.text_to_be_present_in_element(
            (By.CSS_SELECTOR, "ul.messagelist"), f"Reverted change {change.pk}"
        )
    )
    flag.refresh_from_db()
    assert flag.value is False
    newest = FlagChange.objects.filter(key="ui.new_dashboard").first()
    assert newest.revert_of_id == change.pk
    assert f"reverts: {change.pk}" in browser.find_element(By.ID, "content").text
    screenshot("flags-reverted")


def test_an_editor_reverts_several_changes_through_the_confirmation_page(
    browser, console_url, editor, login, screenshot
):
    services.flag_set(key="ui.left", actor="config", create=True, value=False)
    services.flag_set(key="ui.right", actor="config", create=True, value="blue")
    services.flag_set(key="ui.left", actor="cli", value=True)
    services.flag_set(key="ui.right", actor="cli", value="green")
    picked = list(FlagChange.objects.filter(field="value").order_by("id"))
    login(editor)
    browser.get(f"{console_url}/admin/flags/flagchange/")
    for change in picked:
        browser.find_element(
            By.CSS_SELECTOR, f"input[name=_selected_action][value='{change.pk}']"
        ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("revert_selected")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    WebDriverWait(browser, 15).until(ec.title_contains("Revert 2 changes"))
    page = browser.find_element(By.ID, "content").text
    assert "ui.left" in page and "ui.right" in page and '"blue"' in page and '"green"' in page
    assert Flag.objects.get(key="ui.left").value is True  # nothing reverted yet
    screenshot("flags-revert-several-confirm")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value^='Yes, revert']").click()
    WebDriverWait(browser, 15).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, "ul.messagelist"), "Reverted change")
    )
    assert Flag.objects.get(key="ui.left").value is False
    assert Flag.objects.get(key="ui.right").value == "blue"
    reverted = set(
        FlagChange.objects.exclude(revert_of=None).values_list("revert_of_id", flat=True)
    )
    assert reverted == {c.pk for c in picked}
    screenshot("flags-reverted-several")
