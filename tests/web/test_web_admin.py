"""The administrators' calibration page in the browser: refused to ordinary users, fit from a labelled upload,
its reliability chart, activate, the verdicts naming it, roll back to an earlier fit, switch off, and a refused
fit's message."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.support.labelled import labelled_image
from tests.support.tiny_models import ensure_tiny_model_cache
from tests.web.conftest import ROOT
from tests.web.helpers import api_token, open_signed_in, screenshot_both_themes, unique_user

pytestmark = pytest.mark.browser

PER_CLASS = 20
CHART_DRAWN = "() => { const c = document.querySelector('#reliability-chart canvas'); return c && Chart.getChart(c); }"
CHART_DATASETS = "canvas => Chart.getChart(canvas).data.datasets.map(d => ({label: d.label, n: d.data.length}))"


def grant_admin(server, username: str) -> None:
    """Run the operator's `grant-admin` command against the live server's database."""
    env = {
        **os.environ,
        "HF_HOME": str(ensure_tiny_model_cache()),
        "HF_HUB_OFFLINE": "1",
        "DEEPFAKE_INSTANCE_PATH": str(server.root / "instance"),
        "DATABASE_URI": f"sqlite:///{server.root / 'app.db'}",
        "UPLOAD_FOLDER": str(server.root / "uploads"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    env.pop("DEEPFAKE_MODE", None)
    command = [sys.executable, "-m", "flask", "--app", "deepfake_detection.app", "grant-admin", username]
    result = subprocess.run(command, env=env, cwd=server.root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def write_images(folder, fake: bool, count: int) -> list[str]:
    """count small labelled PNGs in folder; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"{'fake' if fake else 'real'}-{index}.png"
        labelled_image(fake, index).save(path)
        paths.append(str(path))
    return paths


def test_non_admin_has_no_link_and_is_refused(page, live_server):
    """An ordinary user sees no Calibrations link, and opening the URL says the page is for administrators."""
    token = api_token(live_server.url, unique_user("plain"))
    open_signed_in(page, token)
    # The user (with its role) has come back from /api/auth/me before the link's absence is checked.
    page.wait_for_function("() => JSON.parse(localStorage.getItem('user') || 'null')")
    expect(page.locator("#admin-link")).to_be_hidden()
    page.goto("/#/admin/calibrations")
    expect(page.locator("#admin-refused")).to_contain_text("administrators only")
    expect(page.locator("#calibration-table")).to_have_count(0)


def test_admin_fits_compares_activates_and_switches_off(page, live_server, tmp_path, screenshot_dir):
    """An administrator fits from labelled images, sees the row and chart, activates it and switches it off."""
    user = unique_user("admin")
    token = api_token(live_server.url, user)
    grant_admin(live_server, user["username"])
    open_signed_in(page, token)
    link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Calibrations")
    expect(link).to_be_visible()
    link.click()
    expect(page.locator("#active-calibrations")).to_be_visible()
    # The ensemble's combination can be calibrated too: offered, but a calibration names its model on purpose.
    expect(page.locator("#upload-model")).to_be_enabled()
    expect(page.locator("#upload-model option[value='ensemble']")).to_have_count(1)
    expect(page.locator("#feedback-model option[value='ensemble']")).to_have_count(1)
    expect(page.locator("#upload-model")).not_to_have_value("ensemble")

    # Too few examples: the server's refusal is shown, nothing is stored.
    page.locator("#upload-real").set_input_files(write_images(tmp_path / "few-real", False, 3))
    page.locator("#upload-fake").set_input_files(write_images(tmp_path / "few-fake", True, 3))
    page.locator("#fit-upload").click()
    expect(page.locator("#upload-result #fit-refused")).to_contain_text("20")

    page.locator("#upload-real").set_input_files(write_images(tmp_path / "real", False, PER_CLASS))
    page.locator("#upload-fake").set_input_files(write_images(tmp_path / "fake", True, PER_CLASS))
    page.locator("#fit-upload").click()
    result = page.locator("#upload-result #fit-result")
    expect(result).to_contain_text(f"{2 * PER_CLASS} images scored, 0 skipped")
    expect(result).to_contain_text("Brier")
    row = page.locator("#calibration-table tbody tr").first
    expect(row).to_contain_text(f"{PER_CLASS} / {PER_CLASS}")
    expect(row.locator(".metric-brier")).to_contain_text("→")
    expect(row).to_have_attribute("data-active", "false")

    # The fit opens its detail: a reliability chart with the diagonal, before and after.
    canvas = page.locator("#reliability-chart canvas")
    expect(canvas).to_be_attached()
    page.wait_for_function(CHART_DRAWN)
    datasets = canvas.evaluate(CHART_DATASETS)
    assert [d["label"] for d in datasets] == ["Perfectly calibrated", "Before (raw scores)", "After (calibrated)"]
    assert datasets[1]["n"] > 0 and datasets[2]["n"] > 0

    calibration_id = row.get_attribute("data-id")
    row.get_by_role("button", name=f"Activate calibration {calibration_id}").click()
    row = page.locator(f"#calibration-table tbody tr[data-id='{calibration_id}']")
    expect(row).to_have_attribute("data-active", "true")
    expect(row.locator(".active-cell")).to_have_text("Active")
    expect(page.locator("#active-calibrations")).to_contain_text(f"calibration #{calibration_id} is applied")
    screenshot_both_themes(page, screenshot_dir, "admin-calibrations")
    model_key = row.locator("td").nth(1).inner_text()

    # Verdicts now name the calibration; the ensemble says which of its members are still raw.
    page.goto("/#/image")
    photo = write_images(tmp_path / "check", True, 1)[0]
    page.locator("#image-model").select_option(model_key)
    page.set_input_files("#image-file", photo)
    with page.expect_response("**/api/detect/image") as answered:
        page.get_by_role("button", name="Detect").click()
    member = answered.value.json()["members"][0]
    assert member["calibrated_probability"] is not None
    fitted = f"(calibration #{calibration_id}, fitted on {2 * PER_CLASS} labelled examples)"
    expect(page.locator("#image-calibration")).to_have_text(f"Calibrated probabilities: {member['name']} {fitted}.")
    page.locator("#image-model").select_option("ensemble")
    page.set_input_files("#image-file", photo)
    with page.expect_response("**/api/detect/image") as answered:
        page.get_by_role("button", name="Detect").click()
    raw = [m["name"] for m in answered.value.json()["members"] if m["calibrated_probability"] is None]
    expect(page.locator("#image-calibration")).to_contain_text(f"(calibration #{calibration_id}")
    still_raw = f"Raw outputs, not calibrated probabilities: {', '.join(raw)}."
    expect(page.locator("#image-calibration")).to_contain_text(still_raw)

    # A second fit, switched on, then rolled back to the first.
    page.goto("/#/admin/calibrations")
    page.locator("#upload-model").select_option(model_key)
    page.locator("#upload-real").set_input_files(write_images(tmp_path / "real", False, PER_CLASS))
    page.locator("#upload-fake").set_input_files(write_images(tmp_path / "fake", True, PER_CLASS))
    page.locator("#fit-upload").click()
    expect(page.locator("#calibration-table tbody tr")).to_have_count(2)
    newer = page.locator("#calibration-table tbody tr").first
    newer_id = newer.get_attribute("data-id")
    assert newer_id != calibration_id
    newer.get_by_role("button", name=f"Activate calibration {newer_id}").click()
    expect(page.locator("#active-calibrations")).to_contain_text(f"calibration #{newer_id} is applied")
    row = page.locator(f"#calibration-table tbody tr[data-id='{calibration_id}']")
    expect(row).to_have_attribute("data-active", "false")
    row.get_by_role("button", name=f"Activate calibration {calibration_id}").click()
    expect(row).to_have_attribute("data-active", "true")
    expect(page.locator(f"#calibration-table tbody tr[data-id='{newer_id}']")).to_have_attribute("data-active", "false")
    expect(page.locator("#active-calibrations")).to_contain_text(f"calibration #{calibration_id} is applied")

    row.get_by_role("button", name=f"Switch off calibration {calibration_id}").click()
    expect(row).to_have_attribute("data-active", "false")
    expect(page.locator("#active-calibrations")).not_to_contain_text(f"calibration #{calibration_id} is applied")
    expect(page.locator("#active-calibrations")).to_contain_text("raw scores: no calibration")
