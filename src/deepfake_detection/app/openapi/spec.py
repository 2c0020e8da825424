"""The OpenAPI 3 description of the API, built with apispec: the operations below, their shapes from the models.

Every request body, query string and answer is a pydantic model of the feature's schemas.py, the one the view
parses or answers with; so the document declares every constraint the server enforces (lengths, patterns,
enums, bounds) by construction, and a client or a fuzzer can tell a request the server will refuse from one
it will take by reading the document alone.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from apispec import APISpec
from pydantic import BaseModel

from ..auth.schemas import CurrentUser, LoggedIn, LoginRequest, Registered, RegisterRequest
from ..calibration.schemas import (
    CalibrationEntry,
    CalibrationList,
    CalibrationQuery,
    CalibrationUploaded,
    Deactivated,
    ModelRequest,
    UploadForm,
)
from ..detection.schemas import (
    AsyncOption,
    CameraRequest,
    CameraResult,
    ImageForm,
    ImageResult,
    Models,
    VideoAccepted,
    VideoCancelled,
    VideoForm,
    VideoResult,
    VideoState,
)
from ..health.schemas import Health
from ..history.schemas import FeedbackRecorded, FeedbackRequest, HistoryEntry, HistoryList, HistoryQuery
from ..request_parsing import MAX_ID
from ..schemas_common import Error, Message, openapi_schema
from ..stats.schemas import Stats
from .patterns import WHITESPACE, around_spaces, portable

__all__ = ["WHITESPACE", "build_spec"]
# Kept under their former names: tests check the document's patterns with them.
_portable, _around_spaces = portable, around_spaces

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


# Every model a path refers to, with how it is read: requests as validated, answers as serialised.
MODELS: dict[str, tuple[type[BaseModel], str]] = {}


def _model(model: type[BaseModel], mode: str) -> dict[str, Any]:
    """A reference to the model's schema (registered as a component when the document is built)."""
    MODELS[model.__name__] = (model, mode)
    return _ref(model.__name__)


def _body(model: type[BaseModel], media_type: str = "application/json") -> dict[str, Any]:
    """A required request body of the model's shape."""
    return {"required": True, "content": {media_type: {"schema": _model(model, "validation")}}}


def _form(model: type[BaseModel]) -> dict[str, Any]:
    """A required multipart form of the model's shape (its bytes fields are files)."""
    return _body(model, "multipart/form-data")


def _query(model: type[BaseModel]) -> list[dict[str, Any]]:
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


def _answer(model: type[BaseModel], description: str) -> dict[str, Any]:
    """A JSON answer of the model's shape."""
    return _json(_model(model, "serialization"), description)


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _answer(Error, description)


def _errors(*codes: int) -> dict[str, Any]:
    texts = {
        400: "Invalid input",
        401: "Missing, invalid, expired or revoked token",
        403: "Not an administrator",
        404: "Not found (or not yours)",
        409: "Conflict",
        413: "Upload too large",
        429: "Rate limit exceeded",
        503: "Model not available (the message names the fetch command)",
    }
    return {str(code): _error(texts[code]) for code in codes}


ID_PARAM = {"in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def _paths() -> dict[str, Any]:
    """Every operation; their bodies, parameters and answers are the models'."""
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
                "responses": {"200": _answer(Models, "Models")},
            }
        },
        "/api/detect/image": {
            "post": {
                "tags": ["detection"],
                "summary": "Detect a deepfake image",
                "security": BEARER,
                "requestBody": _form(ImageForm),
                "responses": {"200": _answer(ImageResult, "Verdict"), **_errors(400, 401, 413, 503)},
            }
        },
        "/api/detect/video": {
            "post": {
                "tags": ["detection"],
                "summary": "Detect a deepfake video (waits unless async=true)",
                "security": BEARER,
                "parameters": _query(AsyncOption),
                "requestBody": _form(VideoForm),
                "responses": {
                    "200": _answer(VideoResult, "Verdict"),
                    "202": _answer(VideoAccepted, "Accepted; follow status_url"),
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
                "responses": {"200": _answer(VideoState, "Status"), **_errors(401, 404)},
            },
            "delete": {
                "tags": ["detection"],
                "summary": "Delete a video in any state, with its files",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "video_id"}],
                "responses": {"200": _answer(Message, "Deleted"), **_errors(401, 404)},
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
                "responses": {"200": _answer(VideoCancelled, "Cancellation requested"), **_errors(401, 404, 409)},
            }
        },
        "/api/detect/camera": {
            "post": {
                "tags": ["detection"],
                "summary": "Detect one webcam frame (smoothed per session)",
                "security": BEARER,
                "requestBody": _body(CameraRequest),
                "responses": {"200": _answer(CameraResult, "Smoothed verdict"), **_errors(400, 401, 413, 503)},
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
        "/api/admin/calibrations": {
            "get": {
                "tags": ["admin"],
                "summary": "Stored calibrations (newest first) and each model's active one",
                "security": BEARER,
                "parameters": _query(CalibrationQuery),
                "responses": {"200": _answer(CalibrationList, "Calibrations"), **_errors(400, 401, 403)},
            }
        },
        "/api/admin/calibrations/{calibration_id}": {
            "get": {
                "tags": ["admin"],
                "summary": "One calibration with its reliability chart before and after",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "calibration_id"}],
                "responses": {"200": _answer(CalibrationEntry, "Calibration"), **_errors(401, 403, 404)},
            }
        },
        "/api/admin/calibrations/feedback": {
            "post": {
                "tags": ["admin"],
                "summary": "Fit a model's (or the ensemble's combination's) calibration on users' feedback"
                " (stored inactive)",
                "description": "400 `calibration_refused` (nothing stored) when the examples cannot support a fit.",
                "security": BEARER,
                "requestBody": _body(ModelRequest),
                "responses": {"201": _answer(CalibrationEntry, "Fitted"), **_errors(400, 401, 403)},
            }
        },
        "/api/admin/calibrations/upload": {
            "post": {
                "tags": ["admin"],
                "summary": "Fit a model's (or the ensemble's combination's) calibration on uploaded real and fake"
                " images (stored inactive)",
                "description": "Unreadable images are skipped and listed; 400 `calibration_refused` (nothing"
                " stored) when the rest cannot support a fit.",
                "security": BEARER,
                "requestBody": _form(UploadForm),
                "responses": {"201": _answer(CalibrationUploaded, "Fitted"), **_errors(400, 401, 403, 413, 503)},
            }
        },
        "/api/admin/calibrations/{calibration_id}/activate": {
            "post": {
                "tags": ["admin"],
                "summary": "Apply this calibration to its model (switch, or roll back to an earlier one)",
                "description": "409 `calibration_stale` for an ensemble calibration fitted over other members or"
                " member calibrations than those in force (it would not be applied).",
                "security": BEARER,
                "parameters": [{**ID_PARAM, "name": "calibration_id"}],
                "responses": {"200": _answer(CalibrationEntry, "Active"), **_errors(401, 403, 404, 409)},
            }
        },
        "/api/admin/calibrations/deactivate": {
            "post": {
                "tags": ["admin"],
                "summary": "Switch a model back to raw scores",
                "security": BEARER,
                "requestBody": _body(ModelRequest),
                "responses": {"200": _answer(Deactivated, "Switched off"), **_errors(400, 401, 403)},
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
def build_spec(model_keys: tuple[str, ...]) -> dict[str, Any]:
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
    paths = _paths()
    components = {}
    for name, (shape, mode) in sorted(MODELS.items()):
        schema, referred = openapi_schema(shape, mode=mode, model_key=model)  # type: ignore[arg-type]
        components.update(referred)
        components[name] = schema
    for name, schema in components.items():
        spec.components.schema(name, schema)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
