"""Verdicts in the browser with cue-trained models that really agree or disagree: "Likely fake", "Uncertain"
and "Likely real" with their words, one bar per model, the reasons, the raw-scores notice, the self-test when
the API ran it, the history and the dashboard; and the video's segments when the API gives them."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.support import media
from tests.web.conftest import start_live_server
from tests.web.helpers import api_get, api_token, open_signed_in, screenshot_both_themes, unique_user

pytestmark = pytest.mark.browser

MEMBERS = "cue-magenta,cue-green,cue-pattern"
WORDS = {"fake": "Likely fake", "uncertain": "Uncertain", "real": "Likely real"}
RAW_NOTICE = "These scores are the models' raw outputs, not calibrated probabilities"


def png(rgb: np.ndarray) -> bytes:
    """Lossless, so the fine pattern reaches the models."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def whole(percent: float) -> int:
    """Rounded half up, as the page's Math.round does (Python's round() rounds half to even)."""
    return math.floor(percent + 0.5)


def percent_fake(probability: float) -> str:
    """The page's words for a probability: "73% fake", 0% and 100% only when exactly so (as the reasons say)."""
    percent = probability * 100
    return f"{min(max(whole(percent), 1 if percent > 0 else 0), 99 if percent < 100 else 100)}% fake"


@pytest.fixture(scope="module")
def cue_server(tmp_path_factory, cue_extra_models):
    """A live server whose ensemble is the three cue models (each sees only its own cue)."""
    yield from start_live_server(
        tmp_path_factory.mktemp("cue-server"), DEEPFAKE_EXTRA_MODELS=cue_extra_models, DEEPFAKE_ENSEMBLE_MEMBERS=MEMBERS
    )


@pytest.fixture()
def cue_page(browser, cue_server):
    """A fresh browser context on the cue server; JavaScript errors fail the test."""
    viewport = {"width": 1280, "height": 860}
    context = browser.new_context(base_url=cue_server.url, viewport=viewport, reduced_motion="reduce")
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.add_init_script(RECORD_FORMS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


# Chromium does not hand a multipart body with a file to Playwright: the page's own fetch() notes the text
# fields of every form it sends instead.
RECORD_FORMS = """(() => {
    const send = window.fetch;
    window.sentForms = [];
    window.fetch = (input, init = {}) => {
        if (init.body instanceof FormData) {
            window.sentForms.push(Object.fromEntries([...init.body].filter(([, v]) => typeof v === "string")));
        }
        return send(input, init);
    };
})()"""


def detect(page, path, model: str | None = None) -> tuple[dict, dict]:
    """Upload an image on the image page (with the chosen model, or the page's default); returns the API's
    answer and the text fields of the form the page sent."""
    if model:
        page.locator("#image-model").select_option(model)
    page.set_input_files("#image-file", str(path))
    with page.expect_response("**/api/detect/image") as answer:
        page.get_by_role("button", name="Detect").click()
    response = answer.value
    assert response.ok, response.text()
    return response.json(), page.evaluate("window.sentForms[window.sentForms.length - 1]")


BAR_FRACTIONS = "bars => bars.map(b => b.getBoundingClientRect().width / b.parentElement.getBoundingClientRect().width)"


def assert_members_shown(page, prefix: str, answer: dict) -> None:
    """One bar per member, in the API's order, with its name and its score in words."""
    bars = page.locator(f"#{prefix}-members li")
    expect(bars).to_have_count(len(answer["members"]))
    for index, member in enumerate(answer["members"]):
        bar = bars.nth(index)
        expect(bar).to_have_attribute("data-key", member["key"])
        expect(bar.locator(".member-name")).to_have_text(member["name"])
        calibrated = member["calibrated_probability"]
        used = calibrated if calibrated is not None else member["raw_probability"]
        expect(bar.locator(".member-score")).to_have_text(percent_fake(used))
        expect(bar.locator(".member-band")).to_contain_text(member["band"])


def assert_verdict_shown(page, prefix: str, answer: dict, kind: str) -> None:
    """The headline's words and probability, the reasons as a list and the faces summary."""
    assert answer["verdict"] == kind, answer
    verdict = page.locator(f"#{prefix}-verdict")
    expect(verdict).to_have_attribute("data-verdict", kind)
    expect(verdict.locator(".verdict-label")).to_have_text(WORDS[kind])
    expect(verdict.locator(".verdict-score")).to_have_text(percent_fake(answer["fake_probability"]))
    reasons = [reason[0].upper() + reason[1:] for reason in answer["reasons"]]
    expect(page.locator(f"#{prefix}-reasons li")).to_have_text(reasons)
    expect(page.locator(f"#{prefix}-faces-summary")).to_have_text(f"Faces: {answer['faces_summary']}.")
    assert "confidence" not in verdict.inner_text().lower()


def test_three_verdicts_with_their_words_bars_reasons_and_raw_notice(cue_page, cue_server, tmp_path, screenshot_dir):
    page = cue_page
    token = api_token(cue_server.url, unique_user("verdicts"))
    open_signed_in(page, token, "/image")
    # The web app defaults to the ensemble, which the server lists with its three members.
    expect(page.locator("#image-model")).to_have_value("ensemble")
    expect(page.locator("#image-model-description")).not_to_be_empty()

    plain = tmp_path / "plain.png"
    plain.write_bytes(png(media.small_face()))
    answer, sent = detect(page, plain)
    # Every upload asks for the robustness self-test, with the ensemble.
    assert sent == {"model": "ensemble", "robustness": "true"}, sent
    assert answer["model_key"] == "ensemble" and [m["key"] for m in answer["members"]] == MEMBERS.split(",")
    assert_verdict_shown(page, "image", answer, "real")
    assert_members_shown(page, "image", answer)
    expect(page.locator("#image-calibration")).to_contain_text(RAW_NOTICE)
    if answer.get("backend"):
        expect(page.locator("#image-backend")).to_have_text(f"Computed with {answer['backend']}.")

    # One cue alone: the models disagree, and the page says so in their names.
    green = tmp_path / "green.png"
    green.write_bytes(png(media.green_tint(media.small_face())))
    answer, _ = detect(page, green)
    assert_verdict_shown(page, "image", answer, "uncertain")
    expect(page.locator("#image-reasons li").first).to_contain_text("Models disagree: Cue Green")
    assert_members_shown(page, "image", answer)
    bands = {m["key"]: m["band"] for m in answer["members"]}
    assert bands == {"cue-magenta": "likely real", "cue-green": "likely fake", "cue-pattern": "likely real"}
    expect(page.locator("#image-members li.member-fake")).to_have_count(1)
    # Each bar is drawn as wide as its model's score (the reasons and the bars tell the same story).
    widths = page.locator("#image-members .bar > span").evaluate_all(BAR_FRACTIONS)
    expected = [m["raw_probability"] for m in answer["members"]]
    assert len(widths) == 3 and all(abs(w - p) < 0.02 for w, p in zip(widths, expected, strict=True)), widths
    expect(page.locator("#image-calibration")).to_contain_text(RAW_NOTICE)
    screenshot_both_themes(page, screenshot_dir, "17-image-uncertain-ensemble")

    # A single model that sees its own cue: a clear fake, one bar, the notice in the singular.
    magenta = tmp_path / "magenta.png"
    magenta.write_bytes(png(media.magenta_tint(media.small_face(), 0.3)))
    answer, _ = detect(page, magenta, model="cue-magenta")
    assert_verdict_shown(page, "image", answer, "fake")
    assert_members_shown(page, "image", answer)
    expect(page.locator("#image-calibration")).to_have_text(
        "This score is the model's raw output, not a calibrated probability: "
        "90% does not mean that 9 in 10 such images are fake."
    )

    # The history lists each verdict in its own words and the uncertain one's detail keeps its evidence.
    items = api_get(page, "/api/history")["history"]
    page.goto("/#/history")
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(len(items))
    for index, item in enumerate(items):
        kind = item.get("verdict") or ("fake" if item["is_fake"] else "real")
        expect(rows.nth(index).locator(".badge")).to_have_text(WORDS[kind])
        fake_share = item["confidence_score"] if item["is_fake"] else 100 - item["confidence_score"]
        expect(rows.nth(index)).to_contain_text(percent_fake(fake_share / 100))
    expect(page.locator("#history-table")).not_to_contain_text("confidence")
    uncertain_option = page.locator("#filter-verdict option[value='uncertain']")
    if "verdict" in items[0]:
        # Uncertain results are their own category in the filter.
        page.get_by_label("Verdict").select_option("uncertain")
        expect(rows).to_have_count(sum(1 for item in items if item["verdict"] == "uncertain"))
        expect(rows.locator(".badge")).to_have_text(["Uncertain"])
    else:
        # An API without the items' verdict cannot filter by it: the page does not offer it.
        expect(uncertain_option).to_have_count(0)
    uncertain_item = items[1]
    page.goto(f"/#/history/{uncertain_item['id']}")
    expect(page.locator("#detail-verdict .verdict-label")).to_have_text("Uncertain")
    expect(page.locator("#detail-reasons li").first).to_contain_text("Models disagree: Cue Green")
    expect(page.locator("#detail-members li")).to_have_count(3)
    expect(page.locator("#detail-calibration")).to_contain_text(RAW_NOTICE)


def test_the_self_test_is_shown_when_the_api_ran_it(cue_page, cue_server, tmp_path):
    """The fragile pattern cue does not survive JPEG re-compression: the page names the unstable model."""
    page = cue_page
    open_signed_in(page, api_token(cue_server.url, unique_user("robust")), "/image")
    expect(page.locator("#image-model")).to_have_value("ensemble")
    picture = tmp_path / "magenta-pattern.png"
    picture.write_bytes(png(media.fine_pattern(media.magenta_tint(media.small_face(), 0.3))))
    answer, _ = detect(page, picture)
    expect(page.locator("#image-verdict")).to_have_attribute("data-verdict", answer["verdict"])
    assert answer["robustness"] is not None, "the page sends robustness=true with every image"
    section = page.locator("#image-robustness")
    expect(section).to_have_attribute("data-stable", "false")
    pattern = section.locator("li[data-key='cue-pattern']")
    expect(pattern).to_have_attribute("data-stable", "false")
    jpeg = answer["robustness"]["members"]["cue-pattern"]["variants"]["jpeg"]
    expect(pattern).to_contain_text(f"after JPEG re-compression {percent_fake(jpeg)}")
    expect(section.locator("li[data-key='cue-magenta']")).to_have_attribute("data-stable", "true")


def test_the_dashboard_says_what_its_accuracy_measures(page, live_server):
    token = api_token(live_server.url, unique_user("accuracy"))
    open_signed_in(page, token, "/dashboard")
    # Without ratings nothing was measured, and the card says so instead of showing the mean confidence.
    expect(page.locator("#stat-accuracy-label")).to_have_text("Rated correct")
    expect(page.locator("#stat-accuracy")).to_have_text("—")
    expect(page.locator("#stat-accuracy + .hint")).to_contain_text("you have not rated a verdict yet")
    stats = api_get(page, "/api/stats")
    expect(page.locator("#stat-uncertain")).to_have_text(str(stats["uncertain_count"]))


# A video's segments and per-model lines, as the API names them; absent from older answers.
SEGMENT_FACTS = """canvas => {
    const chart = Chart.getChart(canvas);
    return {
        spans: chart.config.plugins.map(p => p.id),
        lines: chart.data.datasets.map(d => ({label: d.label, tension: d.tension ?? 0, n: d.data.length})),
    };
}"""


TIMELINE_DRAWN = "() => { const c = document.querySelector('#video-timeline canvas'); return c && Chart.getChart(c); }"
PLAYER_AT = """t => {
    const v = document.querySelector('#video-player');
    return v && v.readyState >= 1 && Math.abs(v.currentTime - t) < 0.01;
}"""


def test_video_segments_are_text_and_spans_that_seek_the_player(page, live_server, tmp_path):
    halves = [True, True, False, False]
    clip = media.write_video(tmp_path / "split.mp4", seconds=4, fps=10, size=(320, 240), fake=halves)
    open_signed_in(page, api_token(live_server.url, unique_user("segments")), "/video")
    expect(page.locator("#video-model")).to_be_enabled()
    page.set_input_files("#video-file", str(clip))
    page.get_by_role("button", name="Upload and detect").click()
    verdict = page.locator("#video-verdict")
    expect(verdict).to_be_visible(timeout=60_000)
    item = api_get(page, "/api/history?type=video")["history"][0]
    video = api_get(page, f"/api/videos/{item['content_id']}")["video"]
    kind = video.get("verdict") or ("fake" if video["is_fake"] else "real")
    expect(verdict.locator(".verdict-label")).to_have_text(WORDS[kind])
    frames = f"{video['fake_frames']} of {video['frames_analyzed']} frames fake"
    expect(verdict.locator(".verdict-score")).to_contain_text(frames)
    page.wait_for_function(TIMELINE_DRAWN)
    facts = page.locator("#video-timeline canvas").evaluate(SEGMENT_FACTS)
    assert all(line["tension"] == 0 for line in facts["lines"]), facts
    assert video["segments"], video
    expect(page.locator("#video-segments-text")).to_have_text(f"Segments: {video['segments_text']}")
    assert facts["spans"] == ["segmentSpans"]
    buttons = page.locator("#video-segment-buttons button")
    expect(buttons).to_have_count(len(video["segments"]))
    last = video["segments"][-1]
    buttons.last.click()
    page.wait_for_function(PLAYER_AT, arg=last["start"])
    members = {key for frame in video["timeline"] for key in (frame.get("members") or {})}
    assert len(facts["lines"]) == 2 + len(members), json.dumps(facts)
