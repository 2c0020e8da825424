"""The OpenAPI 3 description of the API, built with apispec from the schemas below.

It declares every constraint the server enforces (lengths, patterns, enums, bounds), so a client or a
fuzzer can tell a request the server will refuse from one it will take by reading the document alone.
"""

from __future__ import annotations

from functools import lru_cache

from apispec import APISpec

from ..auth.passwords import MAX_LENGTH as PASSWORD_MAX
from ..auth.passwords import MIN_LENGTH as PASSWORD_MIN
from ..auth.service import EMAIL_SHAPE_RE, USERNAME_RE
from ..detection.views import ASYNC_WORDS, SESSION_ID_RE
from ..history.models import DETECTION_TYPES
from ..history.views import MAX_PAGE, MAX_PER_PAGE
from ..request_parsing import MAX_ID
from ..serialization import FAKE_MESSAGE, REAL_MESSAGE

BEARER = [{"bearerAuth": []}]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


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


# Python's white space (`str.isspace`, `\s` of `re`) spelled out: `\s` differs between regex dialects
# (ECMA's, which OpenAPI patterns use, lacks \x1c-\x1f and \x85), and patterns must mean what the server does.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def _portable(pattern: str) -> str:
    """The pattern with Python's white-space classes written out, so it means the same in any regex dialect."""
    out, in_class, index = [], False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escape = pattern[index : index + 2]
            if escape == "\\s":
                out.append(WHITESPACE if in_class else f"[{WHITESPACE}]")
            elif escape == "\\S" and not in_class:
                out.append(f"[^{WHITESPACE}]")
            elif escape == "\\S":
                raise ValueError(f"cannot write \\S inside a character class portably: {pattern}")
            else:
                out.append(escape)
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        index += 1
    return "".join(out)


def _around_spaces(pattern: str) -> str:
    """An anchored pattern that also allows the white space the server strips from both ends."""
    return r"^\s*" + pattern.removeprefix("^").removesuffix("$") + r"\s*$"


VERDICT_MESSAGE = {"type": "string", "enum": [FAKE_MESSAGE, REAL_MESSAGE]}
# A string with at least one character that is not white space (the server strips, then requires one).
NOT_BLANK = {"type": "string", "minLength": 1, "pattern": _portable(r"\S")}


SCHEMAS = {
    "Error": _obj(
        {
            "success": {"type": "boolean", "enum": [False]},
            "message": STR,
            "code": STR,
            "errors": {"type": "object", "additionalProperties": STR},
        },
        ["success", "message"],
    ),
    "User": _obj({"id": INT, "username": STR, "email": STR, "created_at": _nullable(STR)}, ["id", "username", "email"]),
    "Model": _all_required(
        _obj({"key": STR, "name": STR, "description": STR, "model_id": STR, "default": BOOL, "available": BOOL})
    ),
    "UploadLimits": _all_required(
        _obj(
            {
                "image": _all_required(_obj({"max_bytes": INT, "extensions": STR_LIST})),
                "video": _all_required(_obj({"max_bytes": INT, "extensions": STR_LIST})),
                "camera": _all_required(
                    _obj(
                        {
                            "max_bytes": INT,
                            "frame_rates": {"type": "array", "items": NUM},
                            "default_rate": NUM,
                            # Added for the web app's camera notice: CAMERA_FRAME_RETENTION_DAYS (null: kept).
                            "retention_days": _nullable(INT),
                        }
                    )
                ),
            },
            description="Upload limits: sizes in bytes, allowed file extensions, camera frames per second;"
            " camera.retention_days: days analysed frames are kept (null: until the user deletes them)",
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
    "HistoryItem": _obj(
        {
            "id": INT,
            "detection_type": {"type": "string", "enum": ["image", "video", "camera"]},
            "content_id": INT,
            "is_fake": BOOL,
            "confidence_score": NUM,
            "detection_time": STR,
            "model_version": STR,
            "feedback": _nullable(BOOL),
            "filename": _nullable(STR),
            "media_url": _nullable(STR),
            "detail": {"type": "object", "nullable": True},
        },
        [
            "id",
            "detection_type",
            "content_id",
            "is_fake",
            "confidence_score",
            "detection_time",
            "model_version",
            "feedback",
            "filename",
            "media_url",
        ],
    ),
    "Stats": _all_required(
        _obj(
            {
                "success": BOOL,
                "total_detections": INT,
                "fake_count": INT,
                "real_count": INT,
                "accuracy": {
                    **NUM,
                    "description": "% of the user's feedback marked correct; without feedback the mean "
                    "confidence of the user's detections (0 with none)",
                },
                "accuracy_basis": {
                    "type": "string",
                    "enum": ["feedback", "confidence"],
                    "description": "what `accuracy` is computed from",
                },
                "average_confidence": NUM,
                "feedback_count": INT,
                "by_type": _all_required(_obj({"image": INT, "video": INT, "camera": INT})),
                "daily": {"type": "array", "items": _all_required(_obj({"date": STR, "fake": INT, "real": INT}))},
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
    credentials = _obj(
        {
            "username": {**NOT_BLANK, "description": "the username or the email, in any case"},
            "password": {"type": "string", "minLength": 1},
        },
        ["username", "password"],
    )
    async_word = {"type": "string", "enum": list(ASYNC_WORDS)}
    return {
        "/api/auth/register": {
            "post": {
                "tags": ["auth"],
                "summary": "Register a user",
                "description": "Username and email must be unique ignoring case (409 otherwise).",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _obj(
                                {
                                    "username": {
                                        "type": "string",
                                        "pattern": _portable(_around_spaces(USERNAME_RE.pattern)),
                                    },
                                    "email": {
                                        "type": "string",
                                        "pattern": _portable(_around_spaces(EMAIL_SHAPE_RE.pattern)),
                                        "maxLength": 120,
                                        "description": "also checked by email-validator (syntax only)",
                                    },
                                    "password": {
                                        "type": "string",
                                        "minLength": PASSWORD_MIN,
                                        "maxLength": PASSWORD_MAX,
                                        "description": "also refused: one of the 30,000 most common passwords, "
                                        "a single repeated character, or the username or email",
                                    },
                                },
                                ["username", "email", "password"],
                            )
                        }
                    },
                },
                "responses": {
                    "201": _json(_obj({"success": BOOL, "message": STR, "user": _ref("User")}), "Created"),
                    **_errors(400, 409, 429),
                },
            }
        },
        "/api/auth/login": {
            "post": {
                "tags": ["auth"],
                "summary": "Log in (rate-limited)",
                "description": "`username` takes the username or the email, either in any case.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": credentials}}},
                "responses": {
                    "200": _json(_obj({"success": BOOL, "access_token": STR, "user": _ref("User")}), "Token"),
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
                "responses": {"200": _json(_obj({"success": BOOL, "user": _ref("User")}), "User"), **_errors(401)},
            }
        },
        "/api/auth/logout": {
            "post": {
                "tags": ["auth"],
                "summary": "Revoke the current token",
                "security": BEARER,
                "responses": {"200": _json(_obj({"success": BOOL, "message": STR}), "Revoked"), **_errors(401)},
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
        "/api/videos/{video_id}/file": {
            "get": {
                "tags": ["detection"],
                "summary": "The uploaded video itself (owner only), for playing it back",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "video_id"}],
                "responses": {
                    "200": {
                        "description": "The video file",
                        "content": {"video/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **_errors(401, 404),
                },
            }
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
                "parameters": [
                    {"in": "query", "name": "page", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
                    {
                        "in": "query",
                        "name": "per_page",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                    },
                    {"in": "query", "name": "type", "schema": {"type": "string", "enum": list(DETECTION_TYPES)}},
                    {"in": "query", "name": "verdict", "schema": {"type": "string", "enum": ["fake", "real"]}},
                ],
                "responses": {
                    "200": _json(
                        _obj(
                            {
                                "success": BOOL,
                                "history": {"type": "array", "items": _ref("HistoryItem")},
                                "count": INT,
                                "total": INT,
                                "page": _nullable(INT),
                                "per_page": _nullable(INT),
                                "pages": INT,
                            }
                        ),
                        "History",
                    ),
                    **_errors(400, 401),
                },
            }
        },
        "/api/history/{history_id}": {
            "get": {
                "tags": ["history"],
                "summary": "One detection with its detail",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "history_id"}],
                "responses": {
                    "200": _json(_obj({"success": BOOL, "item": _ref("HistoryItem")}), "Item"),
                    **_errors(401, 404),
                },
            },
            "delete": {
                "tags": ["history"],
                "summary": "Delete a detection and its stored media",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "history_id"}],
                "responses": {"200": _json(_obj({"success": BOOL, "message": STR}), "Deleted"), **_errors(401, 404)},
            },
        },
        "/api/history/{history_id}/feedback": {
            "post": {
                "tags": ["history"],
                "summary": "Mark a verdict correct or wrong",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "history_id"}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _obj({"correct": BOOL}, ["correct"])}},
                },
                "responses": {
                    "200": _json(_obj({"success": BOOL, "message": STR, "item": _ref("HistoryItem")}), "Recorded"),
                    **_errors(400, 401, 404),
                },
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
                "responses": {"200": _json(_ref("Stats"), "Statistics"), **_errors(401)},
            }
        },
        "/api/health": {
            "get": {
                "tags": ["health"],
                "summary": "Database and model-cache status",
                "responses": {
                    "200": _json(
                        _obj(
                            {
                                "success": BOOL,
                                "status": STR,
                                "database": {"type": "object"},
                                "models": {"type": "array", "items": {"type": "object"}},
                            }
                        ),
                        "Healthy",
                    ),
                    "503": _error("Database unreachable"),
                },
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
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    # "" is accepted and means the default model (the field is optional in the documentation).
    model = {"type": "string", "enum": ["", *model_keys], "description": "a model key; empty or absent: the default"}
    for path, operations in _paths(model).items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
