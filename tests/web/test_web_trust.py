"""What a verdict can be trusted for, in the browser: the limits line and its page, model descriptions,
a timeline of the measured points with a player that jumps to them, the camera's warm-up and retention."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.support import media
from tests.web.conftest import start_live_server
from tests.web.helpers import api_get, api_token, open_signed_in, screenshot_both_themes, unique_user
from tests.web.test_detector_limits_text import FRAGMENT

pytestmark = pytest.mark.browser

LINK = "What these detectors can and cannot do"


def fragment_paragraphs() -> list[str]:
    """The full text's paragraphs as the page shows them (markup removed, lines joined)."""
    blocks = FRAGMENT.read_text(encoding="utf-8").strip().split("\n\n")
    return [" ".join(line.strip() for line in block.splitlines()).replace("**", "") for block in blocks]


CHART = "canvas => { const c = Chart.getChart(canvas); return c ? c : null; }"
CHART_FACTS = """canvas => {
    const chart = Chart.getChart(canvas);
    const measured = chart.data.datasets[0];
    const meta = chart.getDatasetMeta(0);
    return {
        tension: measured.tension,
        drawnTension: meta.dataset.options.tension,
        stepped: meta.dataset.options.stepped,
        xScale: chart.scales.x.type,
        x: measured.data.map(p => p.x),
        pixels: meta.data.map(p => ({x: p.x, y: p.y})),
    };
}"""


# A blob URL a new player can still load is kept; a revoked one fails (fetch() is barred by the CSP).
REVOKED = """url => new Promise(resolve => {
    const probe = document.createElement("video");
    probe.onloadedmetadata = () => resolve("kept");
    probe.onerror = () => resolve("revoked");
    probe.src = url;
})"""


def player_at(page, selector: str, seconds: float) -> None:
    """Wait until the player has its video and stands at the given time."""
    page.wait_for_function(
        """([selector, t]) => {
            const v = document.querySelector(selector);
            return v && v.readyState >= 1 && Math.abs(v.currentTime - t) < 0.01;
        }""",
        arg=[selector, seconds],
    )


def test_every_image_verdict_has_the_limits_line_leading_to_the_full_text(page, live_server, tmp_path):
    summary, *rest = fragment_paragraphs()
    photo = tmp_path / "face.jpg"
    photo.write_bytes(media.image_bytes(media.face_photo(fake=True)))
    token = api_token(live_server.url, unique_user("limits"))
    open_signed_in(page, token, "/image")
    page.set_input_files("#image-file", str(photo))
    page.get_by_role("button", name="Detect").click()
    expect(page.locator("#image-verdict")).to_be_visible()
    line = page.locator("#image-limits")
    expect(line).to_have_text(f"{summary} {LINK}.")
    # The history detail of the same verdict carries the line too.
    history_id = api_get(page, "/api/history")["history"][0]["id"]
    page.goto(f"/#/history/{history_id}")
    expect(page.locator("#detail-limits")).to_have_text(f"{summary} {LINK}.")

    page.locator("#detail-limits").get_by_role("link", name=LINK).click()
    expect(page).to_have_url(re.compile(r"#/about-detectors$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(LINK)
    paragraphs = page.locator("#detector-limits p")
    expect(paragraphs).to_have_text([summary, *rest])
    expect(page.locator("#detector-limits strong").first).to_have_text(summary)


def test_the_limits_page_is_open_to_visitors_who_are_not_signed_in(page, live_server):
    page.goto("/#/login")
    page.get_by_role("contentinfo").get_by_role("link", name=LINK).click()
    expect(page).to_have_url(re.compile(r"#/about-detectors$"))
    expect(page.locator("#detector-limits p").first).to_have_text(fragment_paragraphs()[0])


def test_the_chosen_model_s_description_is_on_the_page(page, live_server):
    models = requests.get(f"{live_server.url}/api/detect/models", timeout=30).json()
    described = {m["key"]: m["description"] for m in models["models"]}
    open_signed_in(page, api_token(live_server.url, unique_user("describe")), "/image")
    select = page.locator("#image-model")
    expect(select).to_be_enabled()
    description = page.locator("#image-model-description")
    expect(description).to_be_visible()
    # The web app preselects the ensemble (its three members are downloaded here).
    expect(select).to_have_value("ensemble")
    expect(description).to_have_text(described["ensemble"])
    assert select.get_attribute("aria-describedby") == "image-model-description"
    other = next(key for key in described if key != "ensemble" and described[key])
    select.select_option(other)
    expect(description).to_have_text(described[other])
    # The camera page defaults to the ensemble too and shows its description as well.
    page.goto("/#/camera")
    expect(page.locator("#camera-model")).to_have_value("ensemble")
    expect(page.locator("#camera-model-description")).to_have_text(described["ensemble"])


def test_the_timeline_draws_measured_points_and_the_player_jumps_to_them(page, live_server, tmp_path, screenshot_dir):
    clip = media.write_video(tmp_path / "clip.mp4", seconds=4, fps=10, size=(320, 240), fake=[True, False, True, False])
    open_signed_in(page, api_token(live_server.url, unique_user("timeline")), "/video")
    expect(page.locator("#video-model")).to_be_enabled()
    page.set_input_files("#video-file", str(clip))
    page.get_by_role("button", name="Upload and detect").click()
    expect(page.locator("#video-verdict")).to_be_visible(timeout=60_000)
    expect(page.locator("#video-limits")).to_contain_text(LINK)

    item = api_get(page, "/api/history?type=video")["history"][0]
    timeline = api_get(page, f"/api/videos/{item['content_id']}")["video"]["timeline"]
    times = [frame["time"] for frame in timeline]
    assert len(times) >= 3 and times == sorted(times)
    canvas = page.locator("#video-timeline canvas")
    # The chart exists once drawn (on the next animation frame).
    page.wait_for_function(f"() => ({CHART})(document.querySelector('#video-timeline canvas'))")
    facts = canvas.evaluate(CHART_FACTS)
    # Straight segments between the measured points, each at its real time on a linear axis in seconds.
    assert facts["tension"] == 0 and facts["drawnTension"] == 0 and facts["stepped"] is False
    assert facts["xScale"] == "linear" and facts["x"] == times

    # The page plays the file it just uploaded; a click on a point shows that moment.
    player = page.locator("#video-player")
    expect(player).to_have_attribute("src", re.compile("^blob:"))
    target = facts["pixels"][2]
    canvas.click(position={"x": target["x"], "y": target["y"]})
    player_at(page, "#video-player", times[2])
    page.locator("#video-frame-times").evaluate("list => list.closest('details').open = true")
    frame_buttons = page.locator("#video-frame-times button")
    expect(frame_buttons).to_have_count(len(times))
    frame_buttons.nth(1).click()
    player_at(page, "#video-player", times[1])
    screenshot_both_themes(page, screenshot_dir, "16-video-timeline-player")

    # The history detail fetches the stored video with the token, and jumps the same way.
    page.goto(f"/#/history/{item['id']}")
    detail = page.locator("#detail-player")
    expect(detail).to_have_attribute("src", re.compile("^blob:"))
    page.wait_for_function(f"() => ({CHART})(document.querySelector('#detail-timeline canvas'))")
    detail_canvas = page.locator("#detail-timeline canvas")
    facts = detail_canvas.evaluate(CHART_FACTS)
    assert facts["x"] == times and facts["tension"] == 0
    last = facts["pixels"][-1]
    detail_canvas.click(position={"x": last["x"], "y": last["y"]})
    player_at(page, "#detail-player", times[-1])
    # Leaving the page releases the downloaded video.
    blob_url = detail.get_attribute("src")
    assert page.evaluate(REVOKED, blob_url) == "kept"
    page.goto("/#/history")
    expect(page.locator("#history-table")).to_be_visible()
    assert page.evaluate(REVOKED, blob_url) == "revoked"


def test_the_camera_warms_up_then_smooths_and_says_frames_are_kept(page, live_server):
    open_signed_in(page, api_token(live_server.url, unique_user("warmup")), "/camera")
    expect(page.locator("#camera-retention")).to_have_text(
        "Every analysed frame is stored on the server with its verdict, and kept until you delete them in your history."
    )
    held = []
    answered = []

    def hold_after_the_first(route):
        # The second frame waits until the first answer has been looked at: no race with the frame rate.
        if answered:
            held.append(route)
        else:
            answered.append(route)
            route.continue_()

    page.route("**/api/detect/camera", hold_after_the_first)
    page.get_by_role("button", name="Start camera").click()
    expect(page.locator("#camera-status")).to_have_text(
        "Warming up (1 of 5 frames): the verdict settles once the window is full"
    )
    expect(page.locator("#camera-limits")).to_contain_text(LINK)
    page.unroute("**/api/detect/camera")
    for route in held:
        route.continue_()
    expect(page.locator("#camera-status")).to_have_text("Live, smoothed over the last 5 frames", timeout=60_000)
    assert page.locator("#camera-live").get_attribute("data-windows").startswith("1/5 2/5 3/5 4/5 5/5")
    page.get_by_role("button", name="Stop").click()


@pytest.fixture(scope="module")
def retaining_server(tmp_path_factory):
    """A second live server that deletes camera frames after 7 days."""
    yield from start_live_server(tmp_path_factory.mktemp("retaining-server"), CAMERA_FRAME_RETENTION_DAYS="7")


def test_the_camera_page_names_the_configured_retention(browser, retaining_server):
    models = requests.get(f"{retaining_server.url}/api/detect/models", timeout=30).json()
    assert models["limits"]["camera"]["retention_days"] == 7
    context = browser.new_context(base_url=retaining_server.url)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        open_signed_in(page, api_token(retaining_server.url, unique_user("retained")), "/camera")
        expect(page.locator("#camera-retention")).to_have_text(
            "Every analysed frame is stored on the server with its verdict, and deleted automatically after 7 days."
        )
        assert not errors, errors
    finally:
        context.close()
