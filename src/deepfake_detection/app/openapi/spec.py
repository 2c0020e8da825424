"""The OpenAPI 3 description of the API, built with apispec from the schemas below.

It declares every constraint the server enforces (lengths, patterns, enums, bounds), so a client or a
fuzzer can tell a request the server will refuse from one it will take by reading the document alone.
"""

from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from pydantic import BaseModel

from ..auth.schemas import CurrentUser, LoggedIn, LoginRequest, Registered, RegisterRequest
from ..detection.views import ASYNC_WORDS, SESSION_ID_RE
from ..health.schemas import Health
from ..history.schemas import FeedbackRecorded, FeedbackRequest, HistoryEntry, HistoryList, HistoryQuery
from ..request_parsing import MAX_ID
from ..schemas_common import Error, Message, openapi_schema
from ..serialization import FAKE_MESSAGE, REAL_MESSAGE
from ..stats.schemas import Stats
from .patterns import WHITESPACE, around_spaces, portable

__all__ = ["WHITESPACE", "build_spec"]
# Kept under their former names: tests check the document's patterns with them.
_portable, _around_spaces = portable, around_spaces

BEARER = [{"bearerAuth": []}]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


# Every model a path refers to, with how it is read: requests as validated, answers as serialised.
MODELS: dict[str, tuple[type[BaseModel], str]] = {}


def _model(model: type[BaseModel], mode: str) -> dict:
    """A reference to the model's schema (registered as a component when the document is built)."""
    MODELS[model.__name__] = (model, mode)
    return _ref(model.__name__)


def _body(model: type[BaseModel]) -> dict:
    """A required JSON request body of the model's shape."""
    return {"required": True, "content": {"application/json": {"schema": _model(model, "validation")}}}


def _query(model: type[BaseModel]) -> list[dict]:
    """The model's fields as query parameters (one left out is None: null is not a value a query can give)."""
    schema, _ = openapi_schema(model, mode="validation", model_key={})
    parameters = []
    for name, field in schema["properties"].items():
        field = {key: value for key, value in field.items() if key != "nullable" and field.get(key, 0) is not None}
        description = field.pop("description", None)
        parameter = {"in": "query", "name": name, "schema": field}
        if name in schema.get("required", []):
            parameter["required"] = True
        parameters.append({**parameter, "description": description} if description else parameter)
    return parameters


def _answer(model: type[BaseModel], description: str) -> dict:
    """A JSON answer of the model's shape."""
    return _json(_model(model, "serialization"), description)


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _answer(Error, description)


def _errors(*codes: int) -> dict:
    texts = {
        400: "Invalid input",
        401: "Missing, invalid, expired or revoked token",
        404: "Not found (or not yours)",
        409: "Conflict",
        413: "Upload too large",
        429: "Rate limit exceeded",
        503: "Model not available (the message names the fetch command)",
    }
    return {str(code): _error(texts[code]) for code in codes}


def _obj(properties: dict, required: list[str] | None = None, **extra) -> dict:
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


NUM = {"type": "number"}
INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
STR_LIST = {"type": "array", "items": STR}


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


def _all_required(schema: dict) -> dict:
    """The object schema with every property required (answers that always carry all their fields)."""
    return {**schema, "required": list(schema["properties"])}


VERDICT_MESSAGE = {"type": "string", "enum": [FAKE_MESSAGE, REAL_MESSAGE]}
# A string with at least one character that is not white space (the server strips, then requires one).
NOT_BLANK = {"type": "string", "minLength": 1, "pattern": _portable(r"\S")}


SCHEMAS = {
    "Model": _all_required(
        _obj({"key": STR, "name": STR, "description": STR, "model_id": STR, "default": BOOL, "available": BOOL})
    ),
    "UploadLimits": _all_required(
        _obj(
            {
                "image": _all_required(_obj({"max_bytes": INT, "extensions": STR_LIST})),
                "video": _all_required(_obj({"max_bytes": INT, "extensions": STR_LIST})),
                "camera": _all_required(
                    _obj({"max_bytes": INT, "frame_rates": {"type": "array", "items": NUM}, "default_rate": NUM})
                ),
            },
            description="Upload limits: sizes in bytes, allowed file extensions, camera frames per second",
        )
    ),
    "Box": _obj({"x": NUM, "y": NUM, "width": NUM, "height": NUM}),
    "Face": _obj(
        {
            "box": _ref("Box"),
            "detection_score": _nullable(NUM),
            "fake_probability": NUM,
            "is_fake": BOOL,
            "confidence": NUM,
        }
    ),
    "ImageResult": _all_required(
        _obj(
            {
                "success": BOOL,
                "is_fake": BOOL,
                "confidence": NUM,
                "image_id": INT,
                "model_used": STR,
                "message": VERDICT_MESSAGE,
                "model_key": STR,
                "fake_probability": NUM,
                "face_found": BOOL,
                "faces": {"type": "array", "items": _ref("Face")},
                "width": INT,
                "height": INT,
                "processing_time_ms": NUM,
                "history_id": INT,
                "filename": STR,
                "media_url": _nullable(STR),
            }
        )
    ),
    "FrameResult": _obj({"time": NUM, "fake_probability": NUM, "is_fake": BOOL, "faces": INT}),
    "VideoResult": _all_required(
        _obj(
            {
                "success": BOOL,
                "is_fake": BOOL,
                "confidence": NUM,
                "video_id": INT,
                "model_used": STR,
                "message": VERDICT_MESSAGE,
                "model_key": STR,
                "fake_probability": NUM,
                "fake_frames": INT,
                "real_frames": INT,
                "frames_analyzed": INT,
                "frames_skipped": INT,
                "duration": NUM,
                "fps": NUM,
                "timeline": {"type": "array", "items": _ref("FrameResult")},
                "thumbnail_url": _nullable(STR),
                "processing_time_ms": NUM,
                "history_id": _nullable(INT),
                "job_id": INT,
                "filename": STR,
            }
        )
    ),
    "VideoAccepted": _obj(
        {"success": BOOL, "video_id": INT, "job_id": INT, "status": STR, "status_url": STR},
        ["success", "video_id", "job_id", "status", "status_url"],
    ),
    "VideoStatus": _obj(
        {
            "id": INT,
            "filename": STR,
            "file_size": INT,
            "upload_date": STR,
            "status": {"type": "string", "enum": ["queued", "processing", "completed", "failed", "cancelled"]},
            "progress": INT,
            "message": STR,
            "job_id": _nullable(INT),
            "model_key": _nullable(STR),
            "error_code": _nullable(STR),
        },
        ["id", "filename", "status", "progress", "message"],
        additionalProperties=True,
    ),
    "CameraResult": _all_required(
        _obj(
            {
                "success": BOOL,
                "is_fake": BOOL,
                "confidence": NUM,
                "model_used": STR,
                "message": VERDICT_MESSAGE,
                "model_key": STR,
                "fake_probability": NUM,
                "frame": {"type": "object", "nullable": True},
                "window_size": INT,
                "frames_in_window": INT,
                "fake_votes": INT,
                "session_id": _nullable(STR),
                "detection_id": INT,
                "history_id": INT,
            }
        )
    ),
}

ID_PARAM = {"in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def _camera_request(model: dict) -> dict:
    """POST /api/detect/camera's JSON body."""
    return _obj(
        {
            "image": {**NOT_BLANK, "description": "data:image/jpeg;base64,... or bare base64"},
            "model": {**model, "nullable": True, "default": "deep-fake-v2"},
            "session_id": {"type": "string", "pattern": SESSION_ID_RE.pattern, "nullable": True},
        },
        ["image"],
    )


def _paths(model: dict) -> dict:
    async_word = {"type": "string", "enum": list(ASYNC_WORDS)}
    return {
        "/api/auth/register": {
            "post": {
                "tags": ["auth"],
                "summary": "Register a user",
                "description": "Username and email must be unique ignoring case (409 otherwise).",
                "requestBody": _body(RegisterRequest),
                "responses": {"201": _answer(Registered, "Created"), **_errors(400, 409, 429)},
            }
        },
        "/api/auth/login": {
            "post": {
                "tags": ["auth"],
                "summary": "Log in (rate-limited)",
                "description": "`username` takes the username or the email, either in any case.",
                "requestBody": _body(LoginRequest),
                "responses": {
                    "200": _answer(LoggedIn, "Token"),
                    "401": _error("Invalid username or password"),
                    **_errors(400, 429),
                },
            }
        },
        "/api/auth/me": {
            "get": {
                "tags": ["auth"],
                "summary": "The current user",
                "security": BEARER,
                "responses": {"200": _answer(CurrentUser, "User"), **_errors(401)},
            }
        },
        "/api/auth/logout": {
            "post": {
                "tags": ["auth"],
                "summary": "Revoke the current token",
                "security": BEARER,
                "responses": {"200": _answer(Message, "Revoked"), **_errors(401)},
            }
        },
        "/api/detect/models": {
            "get": {
                "tags": ["detection"],
                "summary": "Available models",
                "responses": {
                    "200": _json(
                        _obj(
                            {
                                "success": BOOL,
                                "models": {"type": "array", "items": _ref("Model")},
                                "default": STR,
                                "camera_default": STR,
                                "limits": _ref("UploadLimits"),
                            }
                        ),
                        "Models",
                    )
                },
            }
        },
        "/api/detect/image": {
            "post": {
                "tags": ["detection"],
                "summary": "Detect a deepfake image",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": _obj(
                                {
                                    "image": {"type": "string", "format": "binary"},
                                    "model": {**model, "default": "dima806"},
                                },
                                ["image"],
                            )
                        }
                    },
                },
                "responses": {"200": _json(_ref("ImageResult"), "Verdict"), **_errors(400, 401, 413, 503)},
            }
        },
        "/api/detect/video": {
            "post": {
                "tags": ["detection"],
                "summary": "Detect a deepfake video (waits unless async=true)",
                "security": BEARER,
                "parameters": [{"in": "query", "name": "async", "schema": async_word}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": _obj(
                                {
                                    "video": {"type": "string", "format": "binary"},
                                    "model": {**model, "default": "dima806"},
                                    "async": async_word,
                                },
                                ["video"],
                            )
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("VideoResult"), "Verdict"),
                    "202": _json(_ref("VideoAccepted"), "Accepted; follow status_url"),
                    **_errors(400, 401, 409, 413, 429, 503),
                },
            }
        },
        "/api/videos/{video_id}": {
            "get": {
                "tags": ["detection"],
                "summary": "Video job status, progress and result",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "video_id"}],
                "responses": {
                    "200": _json(_obj({"success": BOOL, "video": _ref("VideoStatus")}), "Status"),
                    **_errors(401, 404),
                },
            },
            "delete": {
                "tags": ["detection"],
                "summary": "Delete a video in any state, with its files",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "video_id"}],
                "responses": {"200": _json(_obj({"success": BOOL, "message": STR}), "Deleted"), **_errors(401, 404)},
            },
        },
        "/api/videos/{video_id}/cancel": {
            "post": {
                "tags": ["detection"],
                "summary": "Cancel a queued or running video job",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "video_id"}],
                "responses": {
                    "200": _json(
                        _obj({"success": BOOL, "message": STR, "video": _ref("VideoStatus")}), "Cancellation requested"
                    ),
                    **_errors(401, 404, 409),
                },
            }
        },
        "/api/detect/camera": {
            "post": {
                "tags": ["detection"],
                "summary": "Detect one webcam frame (smoothed per session)",
                "security": BEARER,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _camera_request(model)}}},
                "responses": {"200": _json(_ref("CameraResult"), "Smoothed verdict"), **_errors(400, 401, 413, 503)},
            }
        },
        "/api/history": {
            "get": {
                "tags": ["history"],
                "summary": "The user's detections (all, or one page)",
                "security": BEARER,
                "parameters": _query(HistoryQuery),
                "responses": {"200": _answer(HistoryList, "History"), **_errors(400, 401)},
            }
        },
        "/api/history/{history_id}": {
            "get": {
                "tags": ["history"],
                "summary": "One detection with its detail",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "history_id"}],
                "responses": {"200": _answer(HistoryEntry, "Item"), **_errors(401, 404)},
            },
            "delete": {
                "tags": ["history"],
                "summary": "Delete a detection and its stored media",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "history_id"}],
                "responses": {"200": _answer(Message, "Deleted"), **_errors(401, 404)},
            },
        },
        "/api/history/{history_id}/feedback": {
            "post": {
                "tags": ["history"],
                "summary": "Mark a verdict correct or wrong",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "history_id"}],
                "requestBody": _body(FeedbackRequest),
                "responses": {"200": _answer(FeedbackRecorded, "Recorded"), **_errors(400, 401, 404)},
            }
        },
        "/api/history/{history_id}/media": {
            "get": {
                "tags": ["history"],
                "summary": "Stored image, video thumbnail or camera frame",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "history_id"}],
                "responses": {
                    "200": {
                        "description": "The media file",
                        "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **_errors(401, 404),
                },
            }
        },
        "/api/stats": {
            "get": {
                "tags": ["stats"],
                "summary": "The user's statistics",
                "security": BEARER,
                "responses": {"200": _answer(Stats, "Statistics"), **_errors(401)},
            }
        },
        "/api/health": {
            "get": {
                "tags": ["health"],
                "summary": "Database and model-cache status",
                "responses": {"200": _answer(Health, "Healthy"), "503": _error("Database unreachable")},
            }
        },
    }


@lru_cache(maxsize=8)
def build_spec(model_keys: tuple[str, ...]) -> dict:
    """The OpenAPI document as a dict, for a server offering these model keys."""
    spec = APISpec(
        title="Deepfake Detection API",
        version="1.0.0",
        openapi_version="3.0.3",
        info={"description": 'Self-hosted deepfake detection. Errors are {"success": false, "message": ...}.'},
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    # "" is accepted and means the default model (the field is optional in the documentation).
    model = {"type": "string", "enum": ["", *model_keys], "description": "a model key; empty or absent: the default"}
    paths = _paths(model)
    components = dict(SCHEMAS)
    for name, (shape, mode) in sorted(MODELS.items()):
        schema, referred = openapi_schema(shape, mode=mode, model_key=model)  # type: ignore[arg-type]
        components.update(referred)
        components[name] = schema
    for name, schema in components.items():
        spec.components.schema(name, schema)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
