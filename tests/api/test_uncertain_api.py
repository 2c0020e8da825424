"""Uncertain results as their own category (history `verdict`, its filter, `uncertain_count`) and the
robustness self-test flag of the image and camera endpoints, with the cue-trained models that really disagree."""

from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest
from PIL import Image

from deepfake_detection.engine import DetectionEngine, EngineSettings
from tests.support import media

from .helpers import assert_error, register_and_login

CUES = "cue-magenta,cue-green,cue-pattern"
JPEG_REASON = "the verdict changed after JPEG re-compression"


def _cue_engine(cue_extra_models: str, **env: str) -> DetectionEngine:
    settings = {**os.environ, "DEEPFAKE_EXTRA_MODELS": cue_extra_models, "DEEPFAKE_ENSEMBLE_MEMBERS": CUES, **env}
    return DetectionEngine(EngineSettings.from_env(settings))


@pytest.fixture(scope="module")
def cue_engine(tiny_hf_home, cue_extra_models):
    """The tiny models plus cue-magenta, cue-green and cue-pattern; the ensemble is the three cue models."""
    return _cue_engine(cue_extra_models)


@pytest.fixture
def cue_client(make_app, cue_engine):
    return make_app(DETECTION_ENGINE=cue_engine).test_client()


@pytest.fixture
def cue_user(cue_client):
    return register_and_login(cue_client)


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")  # lossless: the fine pattern reaches the models
    return buffer.getvalue()


GREEN = _png(media.green_tint(media.small_face()))
PLAIN = _png(media.small_face())
PATTERN = _png(media.fine_pattern(media.small_face()))


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def post_image(client, user, png: bytes, **form):
    return client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(png), "photo.png"), **form},
    )


def detect_image(client, user, png: bytes, **form) -> dict:
    response = post_image(client, user, png, **form)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def detect_camera(client, user, png: bytes, **fields) -> dict:
    response = client.post("/api/detect/camera", headers=user.headers, json={"image": _data_url(png), **fields})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# History and statistics ----------------------------------------------------------------------------------------


def test_uncertain_answers_are_their_own_category_in_history_and_stats(cue_client, cue_user):
    client, user = cue_client, cue_user
    fake = detect_image(client, user, GREEN, model="cue-green")
    real = detect_image(client, user, PLAIN, model="cue-green")
    disagree = detect_image(client, user, GREEN, model="ensemble")
    fragile = detect_image(client, user, PATTERN, model="cue-pattern", robustness="true")
    camera = detect_camera(client, user, GREEN, model="ensemble", session_id="cues")
    answers = [fake, real, disagree, fragile, camera]
    assert [a["verdict"] for a in answers] == ["fake", "real", "uncertain", "uncertain", "uncertain"]
    assert disagree["reasons"][0].startswith("models disagree")
    # The fragile cue's score stays high: is_fake says fake, the three-way verdict says uncertain.
    assert fragile["is_fake"] is True and JPEG_REASON in fragile["reasons"]

    history = client.get("/api/history", headers=user.headers).get_json()["history"]
    assert {item["id"]: item["verdict"] for item in history} == {a["history_id"]: a["verdict"] for a in answers}
    detail = client.get(f"/api/history/{fragile['history_id']}", headers=user.headers).get_json()["item"]
    assert detail["verdict"] == "uncertain" and detail["is_fake"] is True

    def ids(query: str) -> set[int]:
        response = client.get(f"/api/history?{query}", headers=user.headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["total"] == body["count"] == len(body["history"])
        return {item["id"] for item in body["history"]}

    uncertain = {a["history_id"] for a in (disagree, fragile, camera)}
    assert ids("verdict=uncertain") == uncertain
    # Each item in exactly one of the three: the fragile one is not "fake", though its is_fake is true.
    assert ids("verdict=fake") == {fake["history_id"]} and ids("verdict=real") == {real["history_id"]}
    assert ids("type=camera&verdict=uncertain") == {camera["history_id"]}

    stats = client.get("/api/stats", headers=user.headers).get_json()
    assert stats["uncertain_count"] == 3
    # The documented totals keep their meaning: split by is_fake, the uncertain ones among them.
    assert stats["total_detections"] == 5 == stats["fake_count"] + stats["real_count"]
    assert stats["fake_count"] == sum(a["is_fake"] for a in answers)
    today = stats["daily"][-1]
    assert (today["fake"] + today["real"], today["uncertain"]) == (5, 3)
    assert all(day["uncertain"] == 0 for day in stats["daily"][:-1])

    # Feedback answers the item with its verdict too.
    marked = client.post(
        f"/api/history/{disagree['history_id']}/feedback", headers=user.headers, json={"correct": True}
    )
    assert marked.status_code == 200 and marked.get_json()["item"]["verdict"] == "uncertain"


@pytest.mark.parametrize("query", ["verdict=maybe", "verdict=Uncertain", "verdict=", "verdict=fake&verdict=real"])
def test_an_unknown_verdict_filter_is_a_400(client, user, query):
    body = assert_error(client.get(f"/api/history?{query}", headers=user.headers), 400)
    assert "verdict" in body["errors"]
    if "&" not in query:
        assert body["message"] == "verdict must be one of: fake, uncertain, real"


# The robustness self-test flag ---------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["true", "on"])
def test_the_image_flag_runs_the_self_test_and_the_fragile_cue_becomes_uncertain(cue_client, cue_user, word):
    body = detect_image(cue_client, cue_user, PATTERN, model="cue-pattern", robustness=word)
    assert body["verdict"] == "uncertain" and JPEG_REASON in body["reasons"]
    assert body["robustness"]["stable"] is False
    variants = body["robustness"]["members"]["cue-pattern"]["variants"]
    assert variants["jpeg"] < 0.5 < body["fake_probability"]


@pytest.mark.parametrize("word", ["0", "off"])
def test_the_image_flag_off_skips_the_self_test(cue_client, cue_user, word):
    body = detect_image(cue_client, cue_user, PATTERN, model="cue-pattern", robustness=word)
    assert body["verdict"] == "fake" and body["robustness"] is None
    assert not any("re-compression" in reason for reason in body["reasons"])


def test_without_the_flag_the_deployment_setting_decides(make_app, cue_engine, cue_client, cue_user, cue_extra_models):
    assert detect_image(cue_client, cue_user, PATTERN, model="cue-pattern")["robustness"] is None
    checking = make_app(DETECTION_ENGINE=_cue_engine(cue_extra_models, DEEPFAKE_ROBUSTNESS="true")).test_client()
    user = register_and_login(checking)
    on = detect_image(checking, user, PATTERN, model="cue-pattern")
    assert on["verdict"] == "uncertain" and on["robustness"]["stable"] is False
    assert detect_image(checking, user, PATTERN, model="cue-pattern", robustness="false")["robustness"] is None
    frame = detect_camera(checking, user, PATTERN, model="cue-pattern")
    assert frame["verdict"] == "uncertain" and frame["robustness"] is not None
    assert detect_camera(checking, user, PATTERN, model="cue-pattern", robustness=False)["robustness"] is None


@pytest.mark.parametrize("word", ["maybe", "", "TRUE", "2"])
def test_an_unknown_image_flag_word_is_a_400_naming_the_words(app, client, user, word):
    response = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo())), "p.jpg"), "robustness": word},
    )
    body = assert_error(response, 400)
    assert body["message"] == "robustness must be one of: true, True, 1, yes, on, false, False, 0, no, off"
    assert "robustness" in body["errors"]
    assert client.get("/api/history", headers=user.headers).get_json()["total"] == 0  # nothing stored


def test_the_image_flag_given_twice_is_a_400(client, user):
    response = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo())), "p.jpg"), "robustness": ["true", "false"]},
    )
    assert assert_error(response, 400)["errors"] == {"robustness": "Given more than once"}


def test_the_camera_flag_runs_the_self_test(cue_client, cue_user):
    on = detect_camera(cue_client, cue_user, PATTERN, model="cue-pattern", robustness=True)
    assert on["verdict"] == "uncertain" and JPEG_REASON in on["reasons"]
    assert on["robustness"]["stable"] is False and on["frame"]["robustness"] == on["robustness"]
    off = detect_camera(cue_client, cue_user, PATTERN, model="cue-pattern", robustness=False)
    assert off["verdict"] == "fake" and off["robustness"] is None
    assert detect_camera(cue_client, cue_user, PATTERN, model="cue-pattern", robustness=None)["robustness"] is None


@pytest.mark.parametrize("value", ["true", 1, 0, "yes", [True], {"on": True}])
def test_a_camera_flag_that_is_not_a_boolean_is_a_400(client, user, value):
    response = client.post(
        "/api/detect/camera", headers=user.headers, json={"image": media.face_data_url(), "robustness": value}
    )
    body = assert_error(response, 400)
    assert body["message"] == "robustness must be true or false" and body["errors"] == {
        "robustness": "Must be a boolean"
    }


def test_the_document_lists_the_added_fields(client):
    document = client.get("/api/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    image_flag = schemas["ImageForm"]["properties"]["robustness"]
    assert image_flag["type"] == "string" and set(image_flag["enum"]) == {
        "true",
        "True",
        "1",
        "yes",
        "on",
        "false",
        "False",
        "0",
        "no",
        "off",
    }
    assert "robustness" not in schemas["ImageForm"]["required"] and "default" not in image_flag
    camera_flag = schemas["CameraRequest"]["properties"]["robustness"]
    assert camera_flag["type"] == "boolean" and camera_flag["nullable"] is True
    assert "DEEPFAKE_ROBUSTNESS" in camera_flag["description"]
    assert schemas["Stats"]["properties"]["uncertain_count"]["type"] == "integer"
    assert "uncertain_count" in schemas["Stats"]["required"]
    assert schemas["DailyCount"]["properties"]["uncertain"]["type"] == "integer"
    item_verdict = schemas["HistoryItem"]["properties"]["verdict"]
    assert item_verdict["enum"] == ["fake", "uncertain", "real"] and item_verdict["nullable"] is True
    [parameter] = [p for p in document["paths"]["/api/history"]["get"]["parameters"] if p["name"] == "verdict"]
    assert parameter["schema"]["enum"] == ["fake", "uncertain", "real"]


def test_an_idempotency_key_replays_only_the_same_flag(client, user):
    photo = media.image_bytes(media.face_photo())

    def send(**form):
        return client.post(
            "/api/detect/image",
            headers={**user.headers, "Idempotency-Key": "robustness-key"},
            content_type="multipart/form-data",
            data={"image": (io.BytesIO(photo), "p.jpg"), **form},
        )

    first = send(robustness="false")
    assert first.status_code == 200 and first.get_json()["robustness"] is None
    again = send(robustness="no")  # the same request in other words: replayed
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json() == first.get_json()
    assert_error(send(robustness="true"), 422)  # another request under the same key
    assert_error(send(), 422)
