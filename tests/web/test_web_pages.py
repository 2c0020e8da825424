"""Browser behaviour beyond the happy path: validation messages, expired and rejected tokens, camera
errors, a model that is not downloaded, filters and pagination, empty states, dark mode."""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.support import media
from tests.web.helpers import (
    MISSING_MODEL,
    SERVER_IMAGE_LIMIT,
    SERVER_VIDEO_LIMIT,
    api_token,
    nav,
    open_signed_in,
    screenshot_both_themes,
    unique_user,
)

pytestmark = pytest.mark.browser


def _jwt_shaped(payload: dict) -> str:
    """A token with the JWT layout (unsigned): enough for the browser to read its expiry."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJl"


def test_sign_up_shows_the_api_messages_next_to_the_fields(page, live_server):
    bad = {"username": "x", "email": "not-an-email", "password": "password"}
    answer = requests.post(f"{live_server.url}/api/auth/register", json=bad, timeout=30).json()
    assert answer["errors"], answer

    page.goto("/#/signup")
    page.get_by_label("Username").fill(bad["username"])
    page.get_by_label("Email").fill(bad["email"])
    page.get_by_label("Password", exact=True).fill(bad["password"])
    page.get_by_label("Confirm password").fill(bad["password"])
    page.get_by_role("button", name="Create account").click()

    for field, message in answer["errors"].items():
        expect(page.locator(f'.field-error[data-field="{field}"]')).to_have_text(message)
        expect(page.locator(f"#field-{field}")).to_have_attribute("aria-invalid", "true")
    # Still on the sign-up page, nothing stored.
    expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
    assert page.evaluate("localStorage.getItem('token')") is None


def test_sign_up_checks_the_repeated_password_before_asking_the_api(page):
    page.goto("/#/signup")
    page.get_by_label("Password", exact=True).fill("Violet-Harbour-Lantern-73")
    page.get_by_label("Confirm password").fill("something else")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator('.field-error[data-field="confirm"]')).to_have_text("The passwords do not match.")
    expect(page.get_by_label("Confirm password")).to_be_focused()


def test_wrong_password_is_reported_on_the_form(page, live_server):
    user = unique_user("wrongpw")
    api_token(live_server.url, user)
    page.goto("/#/login")
    page.get_by_label("Username").fill(user["username"])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password")
    assert page.evaluate("localStorage.getItem('token')") is None


def test_log_in_with_the_email_in_any_case(page, live_server):
    user = unique_user("byemail")
    api_token(live_server.url, user)
    page.goto("/#/login")
    page.get_by_label("Username or email").fill(user["email"].upper())
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert page.evaluate("localStorage.getItem('token')")


def test_an_expired_token_is_dropped_with_a_return_to_log_in(page):
    expired = _jwt_shaped({"sub": "1", "exp": int(time.time()) - 60})
    # As if kept from a visit yesterday: the token is in storage before the app starts.
    page.add_init_script("localStorage.setItem('token', %s)" % json.dumps(expired))
    page.goto("/#/history")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("session has expired")
    assert page.evaluate("localStorage.getItem('token')") is None


def test_a_rejected_token_returns_to_log_in_and_then_to_the_wanted_page(page, live_server):
    user = unique_user("rejected")
    api_token(live_server.url, user)
    forged = _jwt_shaped({"sub": "1", "exp": int(time.time()) + 3600})
    page.goto("/")
    page.evaluate("token => localStorage.setItem('token', token)", forged)
    page.goto("/#/history")
    # The API answers 401 to the forged token: the app drops it and asks to log in.
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("session has expired")
    assert page.evaluate("localStorage.getItem('token')") is None
    page.get_by_label("Username").fill(user["username"])
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="History")).to_be_visible()


@pytest.mark.parametrize(
    ("error_name", "expected"),
    [("NotAllowedError", "Camera access was denied"), ("NotFoundError", "No camera was found")],
)
def test_a_denied_or_missing_camera_gets_a_clear_message(page, live_server, error_name, expected):
    # Stand in for the browser's permission prompt / device list: getUserMedia fails as browsers do.
    page.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('no', '%s'));" % error_name
    )
    open_signed_in(page, api_token(live_server.url, unique_user("nocam")), "/camera")
    page.get_by_role("button", name="Start camera").click()
    expect(page.locator("#camera-message")).to_contain_text(expected)
    expect(page.get_by_role("button", name="Start camera")).to_be_enabled()
    expect(page.get_by_role("button", name="Stop")).to_be_disabled()


def test_a_model_that_is_not_downloaded_names_the_fetch_command(page, live_server, screenshot_dir, tmp_path):
    command = f"deepfake download-models --model {MISSING_MODEL}"
    photo = tmp_path / "face.jpg"
    photo.write_bytes(media.image_bytes(media.face_photo()))
    open_signed_in(page, api_token(live_server.url, unique_user("nomodel")), "/image")
    option = page.locator(f'#image-model option[value="{MISSING_MODEL}"]')
    expect(option).to_contain_text("not downloaded")
    page.get_by_label("Detection model").select_option(MISSING_MODEL)
    expect(page.locator(".model-notice")).to_contain_text(command)

    page.set_input_files("#image-file", str(photo))
    page.get_by_role("button", name="Detect").click()
    result = page.locator("#image-result .model-unavailable")
    expect(result).to_contain_text(command)
    screenshot_both_themes(page, screenshot_dir, "12-image-model-not-downloaded")


def test_a_video_whose_model_is_not_downloaded_names_the_fetch_command(page, live_server, tmp_path):
    # The page knows from the job's error_code (not from the message's words) that the model is missing.
    command = f"deepfake download-models --model {MISSING_MODEL}"
    clip = tmp_path / "clip.mp4"
    media.write_video(clip, seconds=1, fps=5)
    open_signed_in(page, api_token(live_server.url, unique_user("novideomodel")), "/video")
    page.get_by_label("Detection model").select_option(MISSING_MODEL)
    page.set_input_files("#video-file", str(clip))
    page.get_by_role("button", name="Upload and detect").click()
    expect(page.locator("#video-status .model-unavailable")).to_contain_text(command)


def test_a_file_of_the_wrong_kind_is_refused_before_upload(page, live_server, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_bytes(media.NOT_AN_IMAGE)
    open_signed_in(page, api_token(live_server.url, unique_user("wrongfile")), "/image")
    page.set_input_files("#image-file", str(text))
    expect(page.get_by_role("alert")).to_contain_text("not a supported file")
    expect(page.get_by_role("button", name="Detect")).to_be_disabled()


def test_the_pages_show_and_apply_the_server_s_limits(page, live_server, tmp_path):
    limits = requests.get(f"{live_server.url}/api/detect/models", timeout=30).json()["limits"]
    assert (limits["image"]["max_bytes"], limits["video"]["max_bytes"]) == (SERVER_IMAGE_LIMIT, SERVER_VIDEO_LIMIT)
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8" + b"0" * SERVER_IMAGE_LIMIT)  # one byte over the server's limit

    open_signed_in(page, api_token(live_server.url, unique_user("limits")), "/image")
    expect(page.locator(".dropzone .hint")).to_contain_text("Up to 2.5 MB")
    image_accept = ",".join(f".{e}" for e in limits["image"]["extensions"])
    expect(page.locator("#image-file")).to_have_attribute("accept", image_accept)
    page.set_input_files("#image-file", str(big))
    expect(page.get_by_role("alert")).to_contain_text("the limit is 2.5 MB")
    expect(page.get_by_role("button", name="Detect")).to_be_disabled()

    nav(page, "Video")
    expect(page.locator(".dropzone .hint")).to_contain_text("Up to 50 MB")
    video_accept = ",".join(f".{e}" for e in limits["video"]["extensions"])
    expect(page.locator("#video-file")).to_have_attribute("accept", video_accept)

    nav(page, "Camera")
    labels = ["1 frame every 2 s", "1 frame per second", "2 frames per second"]
    expect(page.locator("#camera-rate option")).to_have_text(labels)
    expect(page.locator("#camera-rate")).to_have_value("1000")


def test_new_users_see_empty_states(page, live_server, screenshot_dir):
    open_signed_in(page, api_token(live_server.url, unique_user("empty")), "/dashboard")
    expect(page.locator("#stat-total")).to_have_text("0")
    # Without feedback nothing was measured: the card says so (the API's fallback, the mean confidence, is not shown).
    expect(page.locator("#stat-accuracy")).to_have_text("—")
    expect(page.locator("#stat-accuracy-label")).to_have_text("Rated correct")
    expect(page.get_by_text("No detections yet.")).to_be_visible()
    screenshot_both_themes(page, screenshot_dir, "13-dashboard-empty")
    nav(page, "History")
    expect(page.get_by_text("No detections yet.")).to_be_visible()


def test_history_filters_and_pages(page, live_server, screenshot_dir):
    token = api_token(live_server.url, unique_user("pages"))
    headers = {"Authorization": f"Bearer {token}"}
    frames = {fake: media.face_data_url(fake=fake) for fake in (False, True)}
    # Twelve camera detections, each its own session so no smoothing carries over: 4 fake, 8 real.
    for i in range(12):
        response = requests.post(
            f"{live_server.url}/api/detect/camera",
            headers=headers,
            timeout=60,
            json={"image": frames[i % 3 == 0], "session_id": f"s{i}", "model": "dima806"},
        )
        assert response.status_code == 200, response.text
    fakes = sum(
        1
        for item in requests.get(f"{live_server.url}/api/history", headers=headers, timeout=30).json()["history"]
        if item["is_fake"]
    )

    open_signed_in(page, token, "/history")
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(10)
    expect(page.locator("#history-total")).to_have_text("12 detections · page 1 of 2")
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows).to_have_count(2)
    expect(page.get_by_role("button", name="Next")).to_be_disabled()

    page.get_by_label("Verdict").select_option("fake")
    expect(page).to_have_url(re.compile(r"verdict=fake"))
    expect(rows).to_have_count(fakes)
    expect(page.locator("#history-table .badge-real")).to_have_count(0)
    page.get_by_label("Type").select_option("video")
    expect(page.get_by_text("No detections match these filters.")).to_be_visible()


def test_dark_mode_is_keyboard_operable_and_remembered(page, live_server):
    page.goto("/#/login")
    page.evaluate("localStorage.removeItem('theme')")
    page.reload()
    start = page.evaluate("document.documentElement.dataset.theme")
    page.locator("#theme-toggle").focus()
    page.keyboard.press("Enter")
    flipped = "dark" if start == "light" else "light"
    expect(page.locator("html")).to_have_attribute("data-theme", flipped)
    expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", str(flipped == "dark").lower())
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", flipped)


def test_a_dropped_image_is_previewed_and_detected(page, live_server):
    photo = base64.b64encode(media.image_bytes(media.face_photo(fake=False))).decode()
    open_signed_in(page, api_token(live_server.url, unique_user("dropper")), "/image")
    # A real drop event carrying a File, as the browser builds it for a drag from the desktop.
    transfer = page.evaluate_handle(
        """b64 => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.jpg", { type: "image/jpeg" }));
            return transfer;
        }""",
        photo,
    )
    page.dispatch_event(".dropzone", "drop", {"dataTransfer": transfer})
    expect(page.locator("#image-preview")).to_contain_text("dropped.jpg")
    page.get_by_role("button", name="Detect").click()
    expect(page.locator("#image-verdict")).to_have_attribute("data-verdict", "real")
    expect(page.locator("#image-preview .face-box.is-real").first).to_be_visible()


def test_a_broken_video_shows_the_api_message(page, live_server, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(media.corrupt_video_bytes())
    token = api_token(live_server.url, unique_user("broken"))
    answer = requests.post(
        f"{live_server.url}/api/detect/video",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
        files={"video": ("broken.mp4", broken.read_bytes(), "video/mp4")},
        data={"async": "true"},
    )
    assert answer.status_code == 400, answer.text
    open_signed_in(page, token, "/video")
    page.set_input_files("#video-file", str(broken))
    page.get_by_role("button", name="Upload and detect").click()
    expect(page.locator("#video-status [role=alert]")).to_have_text(answer.json()["message"])
    expect(page.get_by_role("button", name="Upload and detect")).to_be_enabled()


def test_log_in_works_from_the_keyboard_alone(page, live_server):
    user = unique_user("keys")
    api_token(live_server.url, user)
    page.goto("/#/login")
    # The log-in page puts the cursor in the first field.
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(user["username"])
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(user["password"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    # Each new page takes the focus, so keyboard and screen reader users start at its content.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").press("Enter")
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    expect(page.locator("#main")).to_be_focused()
