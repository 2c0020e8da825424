"""The whole product in a real browser: sign up, detect an image, a video and camera frames, use the
history, and check that the dashboard agrees with it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support import media
from tests.web.helpers import api_get, nav, screenshot_both_themes, unique_user

pytestmark = pytest.mark.browser


def test_full_flow_from_sign_up_to_dashboard(page, live_server, screenshot_dir, tmp_path):
    user = unique_user("flow")
    shots = screenshot_dir

    # --- sign up, then log in -------------------------------------------------------------
    page.goto("/")
    expect(page).to_have_url(re.compile(r"#/login$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot_both_themes(page, shots, "01-login")

    page.get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
    page.get_by_label("Username").fill(user["username"])
    page.get_by_label("Email").fill(user["email"])
    page.get_by_label("Password", exact=True).fill(user["password"])
    page.get_by_label("Confirm password").fill(user["password"])
    screenshot_both_themes(page, shots, "02-signup")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("Account created")
    expect(page.get_by_label("Username")).to_have_value(user["username"])
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("#stat-total")).to_have_text("0")
    expect(page.locator("#user-name")).to_have_text(user["username"])

    # --- image: a tinted (fake) face photo gets a FAKE verdict and a face box --------------
    photo = tmp_path / "suspect.jpg"
    photo.write_bytes(media.image_bytes(media.face_photo(fake=True)))
    nav(page, "Image")
    expect(page.locator("#image-model option")).not_to_have_count(0)
    expect(page.locator("#image-model")).to_be_enabled()
    expect(page.locator('#image-model option[value="ensemble"]')).to_have_count(1)
    page.set_input_files("#image-file", str(photo))
    expect(page.locator("#image-preview img")).to_be_visible()
    page.get_by_role("button", name="Detect").click()
    expect(page.locator("#image-verdict")).to_have_attribute("data-verdict", "fake")
    # The verdict in words with its fake probability, never a bare "confidence".
    expect(page.locator("#image-verdict .verdict-label")).to_have_text("Likely fake")
    expect(page.locator("#image-verdict .verdict-score")).to_have_text(re.compile(r"^\d+% fake$"))
    expect(page.locator("#image-members li")).to_have_count(3)
    boxes = page.locator("#image-preview .face-box")
    expect(boxes.first).to_be_visible()
    box = boxes.first.bounding_box()
    image = page.locator("#image-preview img").bounding_box()
    # The face box lies inside the picture and is a real fraction of it.
    assert image["x"] <= box["x"] and box["x"] + box["width"] <= image["x"] + image["width"] + 1
    assert 0.05 * image["width"] < box["width"] < image["width"]
    expect(page.locator("#result-model")).not_to_have_text("—")
    screenshot_both_themes(page, shots, "03-image")

    # --- video: byte upload progress, job progress, then verdict, timeline and thumbnail ---
    clip = media.write_video(tmp_path / "clip.mp4", seconds=3, fps=10, size=(320, 240), fake=True)
    nav(page, "Video")
    expect(page.locator("#video-model")).to_be_enabled()
    # The ensemble judges videos too (offered; preselected when two or more members are downloaded).
    expect(page.locator('#video-model option[value="ensemble"]')).to_have_count(1)
    page.set_input_files("#video-file", str(clip))
    page.get_by_role("button", name="Upload and detect").click()
    expect(page.locator("#video-verdict")).to_be_visible(timeout=60_000)
    # The page went through byte upload, the accepted (queued) job and its end; with tiny models the
    # job may finish between two polls, so "processing" is not always seen.
    seen = page.locator("#video-status").get_attribute("data-seen").split()
    assert seen[:2] == ["uploading", "queued"] and seen[-1] == "completed", seen
    expect(page.locator("#video-verdict")).to_have_attribute("data-verdict", "fake")
    timeline = page.locator("#video-timeline")
    expect(timeline.locator("canvas")).to_be_visible()
    points = int(timeline.get_attribute("data-points"))
    assert points >= 2
    expect(page.locator("#video-frames")).to_have_text(str(points))
    expect(page.locator("#video-thumbnail")).to_be_visible()
    assert page.locator("#video-thumbnail").evaluate("img => img.naturalWidth") > 0
    screenshot_both_themes(page, shots, "04-video")

    # --- camera: Chromium's fake camera plays a real face; a live verdict appears ---------
    nav(page, "Camera")
    # The web app defaults to the ensemble for camera frames too (the API's own default stays deep-fake-v2).
    expect(page.locator("#camera-model")).to_have_value("ensemble")
    page.get_by_role("button", name="Start camera").click()
    expect(page.locator("#camera-verdict")).to_be_visible(timeout=30_000)
    expect(page.locator("#camera-verdict")).to_have_attribute("data-verdict", re.compile("^(fake|uncertain|real)$"))
    expect(page.locator("#camera-members li")).to_have_count(3)
    expect(page.locator("#camera-frames")).to_have_text(re.compile(r"^[2-9]|\d\d"), timeout=30_000)
    expect(page.locator("#camera-window")).to_contain_text("frames")
    expect(page.locator("#camera-faces .face-box").first).to_be_visible()
    screenshot_both_themes(page, shots, "05-camera")
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("button", name="Start camera")).to_be_enabled()
    assert page.locator("#camera-video").evaluate("v => v.srcObject") is None

    # --- history: every kind is listed; detail shows media and faces; feedback; delete -----
    nav(page, "History")
    rows = page.locator("#history-table tbody tr")
    expect(rows.first).to_be_visible()
    total = api_get(page, "/api/history")["total"]
    expect(page.locator("#history-total")).to_contain_text(f"{total} detections")
    if total <= 10:  # all on the first page (a slow machine may have sent many camera frames)
        types = set(rows.evaluate_all("rows => rows.map(r => r.dataset.type)"))
        assert types == {"image", "video", "camera"}, types
    screenshot_both_themes(page, shots, "06-history")
    for kind in ("video", "camera"):
        page.get_by_label("Type").select_option(kind)
        expect(page.locator(f'#history-table tbody tr[data-type="{kind}"]').first).to_be_visible()
        expect(page.locator(f'#history-table tbody tr:not([data-type="{kind}"])')).to_have_count(0)

    page.get_by_label("Type").select_option("image")
    expect(page).to_have_url(re.compile(r"type=image"))
    expect(rows).to_have_count(1)
    page.get_by_role("link", name=re.compile("View image detection")).click()
    expect(page.get_by_role("heading", name="Image detection")).to_be_visible()
    expect(page.locator("#detail-media img")).to_be_visible()
    expect(page.locator("#detail-media .face-box").first).to_be_visible()
    page.get_by_role("button", name="Correct").click()
    expect(page.locator("#feedback-correct")).to_have_attribute("aria-pressed", "true")
    screenshot_both_themes(page, shots, "07-history-detail-image")

    page.goto("/#/history?type=video")
    page.get_by_role("link", name=re.compile("View video detection")).click()
    expect(page.locator("#detail-timeline canvas")).to_be_visible()
    expect(page.locator("#detail-media img")).to_be_visible()
    screenshot_both_themes(page, shots, "08-history-detail-video")

    page.goto("/#/history?type=camera")
    page.get_by_role("link", name=re.compile("View camera detection")).first.click()
    expect(page.locator("#detail-media img")).to_be_visible()
    expect(page.get_by_text("Smoothing window")).to_be_visible()
    screenshot_both_themes(page, shots, "08b-history-detail-camera")

    page.goto("/#/history?type=camera")
    camera_rows = page.locator("#history-table tbody tr")
    expect(camera_rows.first).to_be_visible()
    before = api_get(page, "/api/history?type=camera")["total"]
    doomed = camera_rows.first.get_attribute("data-id")
    camera_rows.first.get_by_role("button", name=re.compile("Delete")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator("#flash")).to_contain_text("Deleted")
    expect(page.locator(f'#history-table tbody tr[data-id="{doomed}"]')).to_have_count(0)
    assert api_get(page, "/api/history?type=camera")["total"] == before - 1

    # --- dashboard: the cards agree with the history ---------------------------------------
    history = api_get(page, "/api/history")["history"]
    fake = sum(1 for item in history if item["is_fake"])
    nav(page, "Dashboard")
    expect(page.locator("#stat-total")).to_have_text(str(len(history)))
    expect(page.locator("#stat-fake")).to_have_text(str(fake))
    expect(page.locator("#stat-real")).to_have_text(str(len(history) - fake))
    expect(page.locator("#stat-accuracy")).to_have_text("100%")  # one verdict rated, as correct
    expect(page.locator("#stat-accuracy-label")).to_have_text("Rated correct")
    expect(page.locator("#stat-accuracy + .hint")).to_have_text(
        "Of the 1 verdict you marked correct or wrong; unrated verdicts are not counted."
    )
    mean = sum(item["confidence_score"] for item in history) / len(history)
    shown = float(page.locator("#stat-avg-confidence").inner_text().rstrip("%"))
    assert abs(shown - mean) <= 0.1
    expect(page.locator("#daily-chart canvas")).to_be_visible()
    expect(page.locator("#split-chart canvas")).to_be_visible()
    expect(page.locator("#recent-list li")).to_have_count(min(5, len(history)))
    screenshot_both_themes(page, shots, "09-dashboard")

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot_both_themes(page, shots, "10-dashboard-phone")
    nav(page, "Image")
    screenshot_both_themes(page, shots, "11-image-phone")
    nav(page, "History")
    expect(page.locator("#history-table")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    screenshot_both_themes(page, shots, "11b-history-phone")

    # --- log out: the token is gone and protected pages lead back to log-in ---------------
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.evaluate("localStorage.getItem('token')") is None
    page.goto("/#/history")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
