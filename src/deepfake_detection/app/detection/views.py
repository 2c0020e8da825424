"""/api/detect/* and /api/videos/<id>: parse the request, call the service, serialise."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, g, request
from flask_jwt_extended import jwt_required

from .. import state
from ..domain_errors import InvalidInput, TooLarge
from ..engine_ext import get_engine
from ..extensions import db
from ..idempotency import http as idempotency
from ..idempotency.service import digest_bytes, digest_stream
from ..jobs.backends import get_backend
from ..jobs.models import COMPLETED
from ..jobs.sync_waits import sync_wait_slot
from ..media_response import private_file
from ..request_parsing import current_user_id, query_value
from ..schemas_common import Message, dump, parse_body, respond, validate
from ..serialization import size_text
from . import cli, retention, service, validation
from .schemas import (
    ASYNC_WORDS,
    AsyncOption,
    CameraRequest,
    CameraResult,
    ImageResult,
    Models,
    RobustnessOption,
    VideoAccepted,
    VideoCancelled,
    VideoResult,
    VideoState,
    VideoStatus,
)

bp = Blueprint("detection", __name__, url_prefix="/api")
PURGE_THROTTLE_KEY = "deepfake_camera_purge_throttle"


def upload_limits(cfg) -> dict[str, tuple[int, str]]:
    """Body limit (bytes, multipart overhead included) and 413 message per upload endpoint."""
    limits = {
        "detection.detect_image": (
            cfg["MAX_IMAGE_SIZE"],
            f"Image too large: the limit is {size_text(cfg['MAX_IMAGE_SIZE'])}",
        ),
        "detection.detect_video": (
            cfg["MAX_VIDEO_SIZE"],
            f"Video too large: the limit is {size_text(cfg['MAX_VIDEO_SIZE'])}",
        ),
        # Base64 grows a frame by a third.
        "detection.detect_camera": (
            cfg["MAX_IMAGE_SIZE"] * 4 // 3 + 4096,
            f"Camera frame too large: the limit is {size_text(cfg['MAX_IMAGE_SIZE'])}",
        ),
    }
    return {endpoint: (limit + cfg["UPLOAD_OVERHEAD"], message) for endpoint, (limit, message) in limits.items()}


@bp.before_request
def _limit_body_size():
    """Lower the body limit per endpoint, so an oversized upload is refused while it streams in."""
    limits = upload_limits(current_app.config)
    if request.endpoint in limits:
        request.max_content_length, g.upload_limit_message = limits[request.endpoint]


@bp.get("/detect/models")
def models():
    """The detectors this server offers, and its upload limits (for clients to check before sending)."""
    engine = get_engine()
    cfg = current_app.config
    return respond(
        Models(
            success=True,
            models=service.list_models(engine=engine, ensemble=True),
            default=engine.default_model_key,
            camera_default=cfg["CAMERA_DEFAULT_MODEL"],
            limits=validation.client_limits(
                max_image_size=cfg["MAX_IMAGE_SIZE"],
                max_video_size=cfg["MAX_VIDEO_SIZE"],
                camera_retention_days=cfg["CAMERA_FRAME_RETENTION_DAYS"],
            ),
        )
    )


@bp.post("/detect/image")
@jwt_required()
def detect_image():
    """Analyse an uploaded image (form field 'image', optional 'model' and 'robustness')."""
    user_id = current_user_id()
    upload = request.files.get("image")
    if upload is None or not upload.filename:
        raise InvalidInput("No image file provided (multipart form field 'image')", fields={"image": "Required"})
    limit = current_app.config["MAX_IMAGE_SIZE"]
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(g.upload_limit_message)
    robustness = _robustness_flag()
    engine = get_engine()
    model_key = service.resolve_model_key(engine=engine, requested=request.form.get("model"))

    def work(claim: idempotency.RequestClaim) -> Response:
        image, history, _ = service.detect_image(
            session=db.session,
            engine=engine,
            upload_root=current_app.config["UPLOAD_FOLDER"],
            user_id=user_id,
            data=data,
            original_name=upload.filename,
            model_key=model_key,
            robustness=robustness,
            before_commit=lambda row, item, result: claim.answer(200, dump(ImageResult.of(row, item))),
        )
        return respond(ImageResult.of(image, history))

    return idempotency.run_once(
        user_id=user_id,
        endpoint="detect_image",
        work=work,
        fields=lambda: {
            "model": model_key,
            "filename": upload.filename,
            "sha256": digest_bytes(data),
            **_given("robustness", robustness),
        },
    )


@bp.post("/detect/video")
@jwt_required()
def detect_video():
    """Analyse an uploaded video (form 'video', optional 'model'); waits unless async=true."""
    user_id = current_user_id()
    upload = request.files.get("video")
    if upload is None or not upload.filename:
        raise InvalidInput("No video file provided (multipart form field 'video')", fields={"video": "Required"})
    run_async = _async_flag()
    engine = get_engine()
    model_key = service.resolve_model_key(engine=engine, requested=request.form.get("model"))
    cfg = current_app.config

    def work(claim: idempotency.RequestClaim) -> Response:
        # The stored answer is the status URL; a synchronous request replaces it with its outcome below.
        outcome = service.analyse_video(
            session=db.session,
            engine=engine,
            backend=get_backend(),
            upload_root=cfg["UPLOAD_FOLDER"],
            user_id=user_id,
            stream=upload.stream,
            original_name=upload.filename,
            model_key=model_key,
            limit=cfg["MAX_VIDEO_SIZE"],
            max_active_jobs=cfg["MAX_ACTIVE_VIDEO_JOBS_PER_USER"],
            wait=not run_async,
            timeout=cfg["VIDEO_SYNC_TIMEOUT"],
            wait_slot=sync_wait_slot,
            before_commit=lambda row, queued: claim.answer(202, dump(VideoAccepted.of(row.id, queued.id, "queued"))),
        )
        if outcome.status == COMPLETED:
            body = dump(
                VideoResult.of(
                    outcome.video,
                    outcome.history_id,
                    success=True,
                    job_id=outcome.job_id,
                    filename=outcome.video.filename,
                )
            )
            claim.replace_answer(200, body)
            return _json(body, 200)
        # Asked for async, no waiting slot free, or the synchronous wait ran out: the client follows the status URL.
        body = dump(VideoAccepted.of(outcome.video.id, outcome.job_id, outcome.status))
        if not run_async:
            claim.replace_answer(202, body)
        return _json(body, 202)

    return idempotency.run_once(
        user_id=user_id,
        endpoint="detect_video",
        work=work,
        fields=lambda: {
            "model": model_key,
            "async": run_async,
            "filename": upload.filename,
            "sha256": digest_stream(upload.stream),
        },
    )


def _json(body: dict, status: int) -> Response:
    """A JSON response with a status."""
    response = current_app.json.response(body)
    response.status_code = status
    return response


@bp.get("/videos/<id:video_id>")
@jwt_required()
def video_status(video_id: int):
    """Status, progress and (when completed) the result of one of the caller's videos."""
    found = service.video_state(session=db.session, user_id=current_user_id(), video_id=video_id)
    return respond(VideoState(success=True, video=VideoStatus.of(found.video, found.job, found.history_id)))


@bp.get("/videos/<id:video_id>/file")
@jwt_required()
def video_file(video_id: int):
    """The uploaded video itself (the web app plays it next to its timeline); owner only."""
    path, name = service.video_file(
        session=db.session,
        user_id=current_user_id(),
        video_id=video_id,
        upload_root=current_app.config["UPLOAD_FOLDER"],
    )
    return private_file(path, name)


@bp.post("/videos/<id:video_id>/cancel")
@jwt_required()
def cancel_video(video_id: int):
    """Cancel the video's job if it is still queued or running."""
    found = service.cancel_video(
        session=db.session, backend=get_backend(), user_id=current_user_id(), video_id=video_id
    )
    return respond(
        VideoCancelled(
            success=True, message="Cancellation requested", video=VideoStatus.of(found.video, found.job, None)
        )
    )


@bp.delete("/videos/<id:video_id>")
@jwt_required()
def delete_video(video_id: int):
    """Delete one of the caller's videos in any state (a running job is stopped)."""
    service.delete_video(
        session=db.session,
        backend=get_backend(),
        user_id=current_user_id(),
        video_id=video_id,
        upload_root=current_app.config["UPLOAD_FOLDER"],
    )
    return respond(Message(success=True, message="Video deleted"))


@bp.post("/detect/camera")
@jwt_required()
def detect_camera():
    """Analyse one webcam frame (JSON: image data URL, optional model, session_id and robustness)."""
    user_id = current_user_id()
    form = parse_body(CameraRequest)
    session_id = form.session_id
    cfg = current_app.config
    frame = validation.decode_base64_image(form.image, limit=cfg["MAX_IMAGE_SIZE"])
    engine = get_engine()
    model_key = service.resolve_model_key(engine=engine, requested=form.model, default=cfg["CAMERA_DEFAULT_MODEL"])

    def work(claim: idempotency.RequestClaim) -> Response:
        detection, history, _ = service.detect_camera_frame(
            session=db.session,
            engine=engine,
            store=state.smoothing_store(),
            upload_root=cfg["UPLOAD_FOLDER"],
            user_id=user_id,
            data=frame,
            session_id=session_id,
            model_key=model_key,
            robustness=form.robustness,
            before_commit=lambda row, item, result: claim.answer(200, dump(CameraResult.of(row, item))),
        )
        # Frames only pile up through this endpoint, so it is where old ones are cleared (one bounded batch
        # per interval; the CLI command clears any backlog at once).
        retention.purge_when_due(
            session=db.session,
            upload_root=cfg["UPLOAD_FOLDER"],
            days=cfg["CAMERA_FRAME_RETENTION_DAYS"],
            batch=cfg["CAMERA_FRAME_PURGE_BATCH"],
            throttle=current_app.extensions[PURGE_THROTTLE_KEY],
        )
        return respond(CameraResult.of(detection, history))

    return idempotency.run_once(
        user_id=user_id,
        endpoint="detect_camera",
        work=work,
        fields=lambda: {
            "model": model_key,
            "session_id": session_id,
            "sha256": digest_bytes(frame),
            **_given("robustness", form.robustness),
        },
    )


def _async_flag() -> bool:
    """The `async` form field or query parameter (at most one of each); absent means wait."""
    in_form, in_query = request.form.getlist("async"), query_value("async")
    if len(in_form) > 1:
        raise InvalidInput("async must be given at most once", fields={"async": "Given more than once"})
    raw = in_form[0] if in_form else in_query
    if raw is None:
        return False
    return ASYNC_WORDS[validate(AsyncOption, {"async": raw}).run_async or ""]


def _robustness_flag() -> bool | None:
    """The image form's `robustness` word (at most once); absent: None, the deployment's setting."""
    given = request.form.getlist("robustness")
    if len(given) > 1:
        raise InvalidInput("robustness must be given at most once", fields={"robustness": "Given more than once"})
    if not given:
        return None
    word = validate(RobustnessOption, {"robustness": given[0]}).robustness
    return ASYNC_WORDS[word or ""]


def _given(name: str, value: bool | None) -> dict[str, bool]:
    """{name: value} when the request gave the flag, else nothing (requests without it keep their fingerprint)."""
    return {} if value is None else {name: value}


def init_app(app: Flask) -> None:
    """Register the blueprint, the camera frame purge throttle and the housekeeping commands."""
    app.register_blueprint(bp)
    app.extensions[PURGE_THROTTLE_KEY] = retention.PurgeThrottle(app.config["CAMERA_FRAME_PURGE_INTERVAL"])
    app.cli.add_command(cli.purge_camera_frames_command)
    app.cli.add_command(cli.sweep_orphan_files_command)
