"""Experiments in a real browser: an editor opens an experiment and reads its verdict;
a viewer is offered no action."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from experiments import selectors, services
from experiments.assignment import assign_variant


def _experiment_with_a_winner():
    exp = services.experiment_create(
        key="checkout", variants=["A", "B"], salt="CHECKOUT", actor="test"
    )
    events = []
    for i in range(400):
        user = f"user{i}"
        services.assign(experiment="checkout", user=user, actor="test")
        rate = 0.10 if assign_variant(user, "CHECKOUT", ["A", "B"]) == "A" else 0.35
        if (i * 7919) % 1000 < rate * 1000:
            events.append({"event": "conversion", "user": user, "exp": "checkout"})
    services.log_events(events=events, actor="test")
    return exp


def test_editor_opens_an_experiment_and_reads_its_verdict(
    browser, console_url, editor, login, screenshot
):
    exp = _experiment_with_a_winner()
    want = selectors.verdict(selectors.results_all(experiment="checkout"))["text"]
    login(editor)
    browser.get(f"{console_url}/admin/experiments/experiment/")
    browser.find_element(By.LINK_TEXT, "checkout").click()
    WebDriverWait(browser, 15).until(
        ec.url_contains(f"/admin/experiments/experiment/{exp.pk}/change/")
    )
    verdict = browser.find_element(By.ID, "verdict").text
    assert verdict == want
    assert verdict.startswith("B is ahead of A by +") and "always-valid 95% CI" in verdict
    assert browser.find_element(By.ID, "uplift-chart").is_displayed()
    assert "%" in browser.find_element(By.ID, "results-table").text
    browser.execute_script("document.getElementById('verdict').scrollIntoView()")
    assert screenshot("experiments-verdict").stat().st_size > 1000


def test_viewer_finds_no_action_on_experiments(browser, console_url, viewer, login, screenshot):
    exp = _experiment_with_a_winner()
    login(viewer)
    browser.get(f"{console_url}/admin/experiments/experiment/")
    assert not browser.find_elements(By.NAME, "action")
    browser.get(f"{console_url}/admin/experiments/experiment/{exp.pk}/change/")
    assert browser.find_element(By.ID, "verdict").text
    assert not browser.find_elements(By.NAME, "_save")
    assert not browser.find_elements(By.CSS_SELECTOR, "a.deletelink")
    screenshot("experiments-viewer")
