"""The documented contract as a real client reads it, and bad input that must be a 4xx, never a 500.

Every answer is checked against the examples of the backend documentation: each field an example shows
must be present with the example value's JSON type (a number stays a number, never null, a string stays a
string), because clients written for the documentation call e.g. `stats.accuracy.toFixed(1)`.
"""

from __future__ import annotations

import io
import re

from sqlalchemy import text

from deepfake_detection.app.auth.service import EMAIL_SHAPE_RE as EMAIL_RE
from deepfake_detection.app.extensions import db
from deepfake_detection.app.openapi import spec
from tests.support import media

from .helpers import PASSWORD, assert_error, register_and_login

USER = {"id": 1, "username": "john_doe", "email": "john@example.com"}
# The documentation's example answers (plus the short `message` its clients display), verbatim.
DOCUMENTED = {
    "register": {"success": True, "message": "User registered successfully", "user": USER},
    "login": {"success": True, "access_token": "eyJ0eXAiOiJKV1QiLCJhbGc...", "user": USER},
    "me": {"success": True, "user": USER},
    "models": {
        "success": True,
        "models": [{"key": "dima806", "name": "Dima806 Deepfake Detector", "description": "General purpose detection"}],
    },
    "image": {
        "success": True,
        "is_fake": False,
        "confidence": 87.45,
        "image_id": 1,
        "model_used": "Dima806 Deepfake Detector",
        "message": "No deepfake detected",
    },
    "video": {
        "success": True,
        "is_fake": True,
        "confidence": 92.31,
        "video_id": 1,
        "model_used": "Deep Fake Detector v2",
        "message": "Deepfake detected",
    },
    "camera": {
        "success": True,
        "is_fake": False,
        "confidence": 81.67,
        "model_used": "Deep Fake Detector v2",
        "message": "No deepfake detected",
    },
    # History items are the documented DetectionHistory columns.
    "history": {
        "success": True,
        "count": 25,
        "history": [
            {
                "id": 1,
                "detection_type": "image",
                "content_id": 1,
                "is_fake": False,
                "confidence_score": 87.45,
                "detection_time": "2026-01-01T00:00:00Z",
                "model_version": "Dima806 Deepfake Detector",
            }
        ],
    },
    "stats": {"success": True, "total_detections": 25, "fake_count": 10, "real_count": 15, "accuracy": 85.5},
}
# Additions whose type is as firm as a documented field's (docs/architecture.md).
ADDED = {
    "stats": {"accuracy_basis": "feedback", "average_confidence": 80.5, "feedback_count": 3},
    "video": {"duration": 1.0, "fps": 5.0, "model_key": "dima806", "frames_analyzed": 1},
    "video_status": {
        "video": {
            "id": 1,
            "filename": "c.mp4",
            "status": "completed",
            "progress": 100,
            "message": "Deepfake detected",
            "is_fake": True,
            "confidence": 92.31,
            "video_id": 1,
            "model_used": "Deep Fake Detector v2",
            "duration": 1.0,
            "fps": 5.0,
        }
    },
}


def _type_name(value) -> str:
    """The JSON type of a value (bool is not a number; an int is a number)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def contract_violations(answer, example, path: str = "$") -> list[str]:
    """Where `answer` lacks a field of `example` or gives it another JSON type (recursively)."""
    expected, actual = _type_name(example), _type_name(answer)
    if expected != actual:
        return [f"{path}: {actual} ({answer!r:.60}) where the documentation shows a {expected}"]
    problems = []
    if isinstance(example, dict):
        for key, value in example.items():
            if key not in answer:
                problems.append(f"{path}.{key}: missing")
            else:
                problems.extend(contract_violations(answer[key], value, f"{path}.{key}"))
    elif isinstance(example, list) and example:
        for index, item in enumerate(answer):
            problems.extend(contract_violations(item, example[0], f"{path}[{index}]"))
    return problems


def check(name: str, response, status: int = 200) -> dict:
    """The answer has the status and every documented (and firmly added) field with its type."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.get_json()
    example = {**DOCUMENTED.get(name, {}), **ADDED.get(name, {})}
    assert contract_violations(body, example) == [], name
    return body


def upload_image(client, user, fake: bool):
    return client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo(fake=fake))), "p.jpg")},
    )


def upload_video(client, user, path, **form):
    return client.post(
        "/api/detect/video",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"video": (io.BytesIO(path.read_bytes()), "c.mp4"), **form},
    )


def test_the_checker_catches_the_trap():
    assert contract_violations({"success": True, "accuracy": None}, DOCUMENTED["stats"]) != []
    assert contract_violations({"a": 1}, {"a": True}) and contract_violations({"a": True}, {"a": 1})
    assert contract_violations({"a": [{"b": None}]}, {"a": [{"b": "x"}]})


def test_every_answer_has_the_documented_fields_with_their_types(app, client, tmp_path):
    """Register, log in, detect each kind, read history and stats: every documented field keeps its type."""
    check(
        "register",
        client.post(
            "/api/auth/register", json={"username": "john_doe", "email": "john@example.com", "password": PASSWORD}
        ),
        201,
    )
    token = check("login", client.post("/api/auth/login", json={"username": "john_doe", "password": PASSWORD}))
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    check("me", client.get("/api/auth/me", headers=headers))
    check("models", client.get("/api/detect/models"))
    user = register_and_login(client)

    # A user with nothing yet: the stats are all numbers.
    stats = check("stats", client.get("/api/stats", headers=user.headers))
    assert (stats["accuracy"], stats["accuracy_basis"], stats["average_confidence"]) == (0, "confidence", 0)

    fake_image = check("image", upload_image(client, user, fake=True))
    assert fake_image["message"] == "Deepfake detected"
    assert check("image", upload_image(client, user, fake=False))["message"] == "No deepfake detected"
    camera = check(
        "camera",
        client.post(
            "/api/detect/camera",
            headers=user.headers,
            json={"image": media.face_data_url(fake=True), "session_id": "s1"},
        ),
    )
    assert camera["message"] == ("Deepfake detected" if camera["is_fake"] else "No deepfake detected")
    clip = media.write_video(tmp_path / "c.mp4", seconds=1, fps=5, fake=True)
    video = check("video", upload_video(client, user, clip))
    assert video["message"] == "Deepfake detected"
    status = check("video_status", client.get(f"/api/videos/{video['video_id']}", headers=user.headers))
    assert status["video"]["message"] == "Deepfake detected"
    check("history", client.get("/api/history", headers=user.headers))
    check("history", client.get("/api/history?page=1&per_page=2", headers=user.headers))

    # Without feedback `accuracy` keeps the documented meaning: the mean confidence of the detections.
    stats = check("stats", client.get("/api/stats", headers=user.headers))
    assert stats["accuracy_basis"] == "confidence" and stats["accuracy"] == stats["average_confidence"] > 0
    client.post(f"/api/history/{fake_image['history_id']}/feedback", headers=user.headers, json={"correct": False})
    stats = check("stats", client.get("/api/stats", headers=user.headers))
    assert (stats["accuracy"], stats["accuracy_basis"], stats["feedback_count"]) == (0, "feedback", 1)

    # Rows written before these columns were filled (or by other code) hold NULLs: still no null answered.
    with app.app_context():
        db.session.execute(
            text(
                "UPDATE video SET duration = NULL, fps = NULL, model_used = NULL, model_key = NULL,"
                " fake_probability = NULL, frames_analyzed = NULL, processing_time_ms = NULL"
            )
        )
        db.session.execute(text("UPDATE image SET model_used = NULL, width = NULL, face_found = NULL"))
        db.session.execute(text("UPDATE detection_history SET model_version = NULL"))
        db.session.commit()
    status = check("video_status", client.get(f"/api/videos/{video['video_id']}", headers=user.headers))
    assert status["video"]["duration"] == 0 and status["video"]["model_used"] == ""
    history = check("history", client.get("/api/history", headers=user.headers))
    assert all(item["model_version"] == "" for item in history["history"])


NESTED = "[" * 100_000 + "]" * 100_000


def test_a_json_body_nested_100000_deep_is_400(client, user):
    for path in ("/api/auth/login", "/api/auth/register", "/api/detect/camera", "/api/history/1/feedback"):
        response = client.post(path, headers=user.headers, data=NESTED, content_type="application/json")
        assert "nested too deeply" in assert_error(response, 400)["message"]


def test_out_of_range_paging_is_400(client, user):
    for query in (
        "page=9223372036854775807",
        "page=9223372036854775807&per_page=100",
        "per_page=9223372036854775807",
        "page=1000001",
        "page=",
        "type=",
        "verdict=",
        "page=1_0",
        "page=%201",
        "page=%D9%A1",
    ):
        assert_error(client.get(f"/api/history?{query}", headers=user.headers), 400)


def test_repeated_query_parameters_are_400(client, user):
    for query in ("page=1&page=2", "per_page=5&per_page=6", "type=image&type=video", "verdict=fake&verdict=real"):
        body = assert_error(client.get(f"/api/history?{query}", headers=user.headers), 400)
        assert "at most once" in body["message"]


def test_ids_beyond_the_integer_range_are_404_for_every_method(client, user):
    paths = [
        ("get", "/api/history/{}"),
        ("delete", "/api/history/{}"),
        ("post", "/api/history/{}/feedback"),
        ("get", "/api/history/{}/media"),
        ("get", "/api/videos/{}"),
        ("delete", "/api/videos/{}"),
        ("post", "/api/videos/{}/cancel"),
    ]
    for big in (2**31, 6094515308, 2**63, 10**30):
        for method, path in paths:
            response = getattr(client, method)(path.format(big), headers=user.headers, json={"correct": True})
            assert_error(response, 404)


def test_video_async_and_model_take_only_the_documented_values(client, user, tmp_path):
    clip = media.write_video(tmp_path / "c.mp4", seconds=1, fps=5)
    for form in ({"async": "maybe"}, {"async": ""}, {"model": " dima806"}):
        assert_error(upload_video(client, user, clip, **form), 400)
    response = client.post(
        "/api/detect/video?async=true&async=false",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"video": (io.BytesIO(clip.read_bytes()), "c.mp4")},
    )
    assert_error(response, 400)
    accepted = upload_video(client, user, clip, **{"async": "true"})
    assert accepted.status_code == 202 and accepted.get_json()["status"] == "queued"


def test_camera_fields_take_only_the_documented_values(client, user):
    for payload in ({"session_id": ""}, {"session_id": "a\n"}, {"session_id": 5}, {"model": " x"}, {"model": 7}):
        body = {"image": media.face_data_url(), **payload}
        assert_error(client.post("/api/detect/camera", headers=user.headers, json=body), 400)


def test_an_empty_model_means_the_default_as_for_an_absent_one(client, user):
    """The documentation calls `model` optional; a client's form with nothing chosen sends it empty."""
    image = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo())), "a.jpg"), "model": ""},
    )
    assert image.status_code == 200 and image.get_json()["model_key"] == "dima806"
    camera = client.post("/api/detect/camera", headers=user.headers, json={"image": media.face_data_url(), "model": ""})
    assert camera.status_code == 200 and camera.get_json()["model_key"] == "deep-fake-v2"


def test_declared_patterns_mean_what_the_server_checks():
    """The document's patterns spell out Python's white space, which other regex dialects define differently."""
    whitespace = {chr(code) for code in range(0x110000) if chr(code).isspace()}
    declared = re.compile(f"[{spec.WHITESPACE}]")
    assert {chr(code) for code in range(0x110000) if declared.fullmatch(chr(code))} == whitespace
    email = re.compile(spec._portable(EMAIL_RE.pattern))
    for candidate in ("a@b.co", "a b@c.de", "a@b.c\x1f", "\x85a@b.co", "a@b.co\n", "a@@b.co", "é@ü.de"):
        assert bool(email.fullmatch(candidate)) == bool(EMAIL_RE.fullmatch(candidate)), candidate
