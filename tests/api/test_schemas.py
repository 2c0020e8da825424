"""Shapes declared once: the request models refuse with the API's own words, the document is built from the models."""

from __future__ import annotations

import json

import pytest

from deepfake_detection.app.detection.schemas import Face, FrameResult
from deepfake_detection.app.history.schemas import MAX_PAGE, MAX_PER_PAGE
from deepfake_detection.app.openapi.spec import build_spec
from deepfake_detection.app.schemas_common import dump
from tests.support import media

from .helpers import PASSWORD, assert_error

MODEL_KEYS = ("dima806", "deep-fake-v2", "open-deepfake")

# Every refusal a request model makes, with the message and field text the API answered before the models.
BODY_REFUSALS = [
    ("/api/auth/register", {"email": "a@b.co", "password": PASSWORD}, "username is required", "This field is required"),
    ("/api/auth/register", {"username": "  ", "email": "a@b.co", "password": PASSWORD}, "username is required", None),
    ("/api/auth/register", {"username": None, "email": "a@b.co", "password": PASSWORD}, "username is required", None),
    (
        "/api/auth/register",
        {"username": 5, "email": "a@b.co", "password": PASSWORD},
        "username must be a string",
        "Must be a string",
    ),
    ("/api/auth/register", {"username": "john", "password": PASSWORD}, "email is required", "This field is required"),
    (
        "/api/auth/register",
        {"username": "john", "email": "a@b.co", "password": ""},
        "password is required",
        "This field is required",
    ),
    ("/api/auth/register", {"username": "john", "email": "a@b.co", "password": 12345678}, "password is required", None),
    ("/api/auth/login", {"password": PASSWORD}, "username is required", "This field is required"),
    ("/api/auth/login", {"username": ["x"], "password": PASSWORD}, "username must be a string", "Must be a string"),
    ("/api/auth/login", {"username": "john"}, "password is required", "This field is required"),
    ("/api/history/1/feedback", {}, "correct must be true or false", "Must be a boolean"),
    ("/api/history/1/feedback", {"correct": "true"}, "correct must be true or false", "Must be a boolean"),
    ("/api/history/1/feedback", {"correct": 1}, "correct must be true or false", "Must be a boolean"),
    ("/api/detect/camera", {}, "image is required", "This field is required"),
    ("/api/detect/camera", {"image": 5}, "image must be a string", "Must be a string"),
    (
        "/api/detect/camera",
        {"image": "x", "session_id": "a b"},
        "session_id must be 1-64 letters, digits or _ . : -",
        "Invalid format",
    ),
    (
        "/api/detect/camera",
        {"image": "x", "session_id": "a" * 65},
        "session_id must be 1-64 letters, digits or _ . : -",
        None,
    ),
]


@pytest.mark.parametrize(("path", "body", "message", "field_text"), BODY_REFUSALS)
def test_body_refusals_keep_their_words(client, user, path, body, message, field_text):
    answer = assert_error(client.post(path, headers=user.headers, json=body), 400)
    assert answer["message"] == message
    field = message.split()[0]
    assert list(answer["errors"]) == [field]
    if field_text is not None:
        assert answer["errors"][field] == field_text


def test_camera_model_of_the_wrong_type_is_refused_as_before(client, user):
    body = {"image": media.face_data_url(), "model": 7}
    answer = assert_error(client.post("/api/detect/camera", headers=user.headers, json=body), 400)
    assert answer["message"] == "model must be a string" and answer["errors"] == {"model": "Must be a string"}


QUERY_REFUSALS = [
    ("page=x", "page must be an integer", "Must be an integer"),
    ("page=0", f"page must be between 1 and {MAX_PAGE}", f"Must be between 1 and {MAX_PAGE}"),
    ("per_page=101", f"per_page must be between 1 and {MAX_PER_PAGE}", f"Must be between 1 and {MAX_PER_PAGE}"),
    ("type=photo", "type must be one of: image, video, camera", "Invalid value"),
    ("verdict=maybe", "verdict must be one of: fake, uncertain, real", "Invalid value"),
    ("page=1&page=1", "page must be given at most once", "Given more than once"),
]


@pytest.mark.parametrize(("query", "message", "field_text"), QUERY_REFUSALS)
def test_query_refusals_keep_their_words(client, user, query, message, field_text):
    answer = assert_error(client.get(f"/api/history?{query}", headers=user.headers), 400)
    field = query.split("=")[0]
    assert answer["message"] == message and answer["errors"] == {field: field_text}


def test_async_refusal_keeps_its_words(client, user, tmp_path):
    clip = media.write_video(tmp_path / "c.mp4", seconds=1, fps=5)
    response = client.post(
        "/api/detect/video?async=maybe",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"video": (clip.open("rb"), "c.mp4")},
    )
    message = "async must be one of: true, True, 1, yes, on, false, False, 0, no, off"
    assert assert_error(response, 400)["errors"] == {"async": message}


def _walk(node, path="$"):
    """Every (path, dict) of a JSON document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


def test_every_body_and_answer_of_the_document_is_a_model():
    """No schema is written inline next to an operation: bodies and answers refer to the models' components."""
    document = build_spec(MODEL_KEYS)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            bodies = [operation.get("requestBody", {})] + list(operation["responses"].values())
            for body in bodies:
                for media_type, content in body.get("content", {}).items():
                    if media_type in ("image/*", "video/*"):
                        continue  # a file, not a shape
                    assert set(content["schema"]) == {"$ref"}, (path, method, media_type)


def test_the_document_is_openapi_3_0_with_no_json_schema_2020_leftovers():
    """pydantic writes JSON Schema 2020-12; the document declares OpenAPI 3.0, which has none of these keywords."""
    document = build_spec(MODEL_KEYS)
    assert document["openapi"] == "3.0.3"
    for path, node in _walk({"components": document["components"], "paths": document["paths"]}):
        if path.endswith(".properties") or path == "$.components.schemas":
            continue  # keys here are names, not keywords
        assert not {"$defs", "const", "title", "prefixItems", "x-model-key"} & set(node), path
        assert node.get("type") != "null", path
        assert {"type": "null"} not in node.get("anyOf", []), path
        ref = node.get("$ref")
        if ref is not None:
            assert ref.removeprefix("#/components/schemas/") in document["components"]["schemas"], ref


def test_constraints_enforced_by_the_models_are_in_the_document():
    document = build_spec(MODEL_KEYS)
    parameters = {p["name"]: p["schema"] for p in document["paths"]["/api/history"]["get"]["parameters"]}
    assert parameters["page"] == {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}
    assert parameters["per_page"] == {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}
    assert parameters["type"]["enum"] == ["image", "video", "camera"]
    camera = document["components"]["schemas"]["CameraRequest"]["properties"]
    assert camera["model"]["enum"] == ["", *MODEL_KEYS] and camera["model"]["nullable"] is True
    assert camera["session_id"]["pattern"] == "^[A-Za-z0-9_.:-]{1,64}$"
    # Answers: a documented number is never null; a stored shape's absent keys are not required.
    image = document["components"]["schemas"]["ImageResult"]
    assert image["properties"]["confidence"] == {"type": "number"} and "confidence" in image["required"]
    assert "required" not in document["components"]["schemas"]["Face"]


def test_stored_json_is_answered_as_stored():
    """Faces and timeline frames come from JSON columns: extra keys stay, absent keys stay absent."""
    face = {"box": {"x": 1, "y": 2, "width": 3, "height": 4, "angle": 0.5}, "is_fake": True, "landmarks": [1, 2]}
    assert json.loads(json.dumps(dump(Face.model_validate(face)))) == face
    assert dump(FrameResult.model_validate({"time": 0.5})) == {"time": 0.5}
