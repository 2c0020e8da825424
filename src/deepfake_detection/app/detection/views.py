"""/api/detect/* and /api/videos/<id>: parse the request, call the service, serialise."""

from __future__ import annotations

import re

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask_jwt_extended import jwt_required
from sqlalchemy import select

from .. import state
from ..engine_ext import get_engine
from .. import domain_errors
from ..domain_errors import Cancelled, Conflict, Internal, InvalidInput, NotFound, TooLarge
from ..extensions import db
from ..history.models import DetectionHistory
from ..idempotency import http as idempotency
from ..idempotency.service import digest_bytes, digest_stream
from ..jobs import service as jobs_service
from ..jobs.backends import get_backend
from ..jobs.models import COMPLETED
from ..jobs.sync_waits import sync_wait_slot
from ..request_parsing import current_user_id, json_object, query_value, string_field
from . import cli, retention, serializers, service, validation
from .models import Video

bp = Blueprint("detection", __name__, url_prefix="/api")
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# The words `async` takes (form field or query), as declared in the OpenAPI document; anything else is a 400.
ASYNC_WORDS = {"true": True, "True": True, "1": True, "yes": True, "on": True,
               "false": False, "False": False, "0": False, "no": False, "off": False}
PURGE_THROTTLE_KEY = "deepfake_camera_purge_throttle"


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def upload_limits(cfg) -> dict[str, tuple[int, str]]:
    """Body limit (bytes, multipart overhead included) and 413 message per upload endpoint."""
    limits = {
        "detection.detect_image": (cfg["MAX_IMAGE_SIZE"], f"Image too large: the limit is {_mb(cfg['MAX_IMAGE_SIZE'])}"),
        "detection.detect_video": (cfg["MAX_VIDEO_SIZE"], f"Video too large: the limit is {_mb(cfg['MAX_VIDEO_SIZE'])}"),
        # Base64 grows a frame by a third.
        "detection.detect_camera": (cfg["MAX_IMAGE_SIZE"] * 4 // 3 + 4096,
                                    f"Camera frame too large: the limit is {_mb(cfg['MAX_IMAGE_SIZE'])}"),
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
    """The detectors this server offers."""
    engine = get_engine()
    return jsonify(success=True, models=service.list_models(engine=engine), default=engine.default_model_key,
                   camera_default=current_app.config["CAMERA_DEFAULT_MODEL"])


@bp.post("/detect/image")
@jwt_required()
def detect_image():
    """Analyse an uploaded image (form field 'image', optional 'model')."""
    user_id = current_user_id()
    upload = request.files.get("image")
    if upload is None or not upload.filename:
        raise InvalidInput("No image file provided (multipart form field 'image')", fields={"image": "Required"})
    limit = current_app.config["MAX_IMAGE_SIZE"]
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(g.upload_limit_message)
    engine = get_engine()
    model_key = service.resolve_model_key(engine=engine, requested=request.form.get("model"))
    claim = idempotency.claim_request(user_id=user_id, endpoint="detect_image", fields={
        "model": model_key, "filename": upload.filename,
        "sha256": digest_bytes(data)} if idempotency.wants_key() else {})
    if isinstance(claim, Response):
        return claim
    with idempotency.released_on_failure(claim):
        image, history, verdict = service.detect_image(
            session=db.session, engine=engine, upload_root=current_app.config["UPLOAD_FOLDER"], user_id=user_id,
            data=data, original_name=upload.filename, model_key=model_key,
            before_commit=lambda row, item, result: claim.answer(200, serializers.image_result(row, item, result)))
    return jsonify(serializers.image_result(image, history, verdict))


@bp.post("/detect/video")
@jwt_required()
def detect_video():
    """Analyse an uploaded video (form 'video', optional 'model'); waits unless async=true."""
    user_id = current_user_id()
    upload = request.files.get("video")
    if upload is None or not upload.filename:
        raise InvalidInput("No video file provided (multipart form field 'video')", fields={"video": "Required"})
    run_async = _async_flag()
    model_key = service.resolve_model_key(engine=get_engine(), requested=request.form.get("model"))
    cfg = current_app.config
    claim = idempotency.claim_request(user_id=user_id, endpoint="detect_video", fields={
        "model": model_key, "async": run_async, "filename": upload.filename,
        "sha256": digest_stream(upload.stream)} if idempotency.wants_key() else {})
    if isinstance(claim, Response):
        return claim
    with idempotency.released_on_failure(claim):
        # The stored answer is the status URL; a synchronous request replaces it with its result below.
        video, job = service.store_video_upload(
            session=db.session, upload_root=cfg["UPLOAD_FOLDER"], user_id=user_id, stream=upload.stream,
            original_name=upload.filename, model_key=model_key, limit=cfg["MAX_VIDEO_SIZE"],
            max_active_jobs=cfg["MAX_ACTIVE_VIDEO_JOBS_PER_USER"],
            before_commit=lambda row, queued: claim.answer(202, _accepted(row.id, queued.id, "queued")))
    video_id, job_id = video.id, job.id
    backend = get_backend()
    jobs_service.submit(session=db.session, backend=backend, job_id=job_id, video_id=video_id)
    waited = False
    if not run_async:
        # Only VIDEO_SYNC_MAX_WAITERS requests may hold a server thread waiting; the others get the 202.
        with sync_wait_slot() as waited:
            if waited:
                job = jobs_service.wait_for_job(session=db.session, job_id=job_id,
                                                timeout=cfg["VIDEO_SYNC_TIMEOUT"],
                                                waiter=getattr(backend, "wait", None))
    if waited:
        if job is not None and job.status == COMPLETED:
            video = db.session.get(Video, video_id, populate_existing=True)
            body = {"success": True, **serializers.video_result_fields(video, _video_history_id(video_id)),
                    "job_id": job_id, "filename": video.filename}
            claim.replace_answer(200, body)
            return jsonify(body)
        if job is not None and job.status in ("failed", "cancelled"):
            code = job.error_code or (Cancelled.code if job.status == "cancelled" else Internal.code)
            raise domain_errors.from_code(code, job.message or f"Video detection {job.status}",
                                          details={"video_id": video_id, "job_id": job_id, "status": job.status})
    # Asked for async, no waiting slot free, or the synchronous wait ran out: the client follows the status URL.
    body = _accepted(video_id, job_id, "processing" if waited else "queued")
    if not run_async:
        claim.replace_answer(202, body)
    return jsonify(body), 202


def _accepted(video_id: int, job_id: int, status: str) -> dict:
    """The 202 answer: where to follow the video's job."""
    return {"success": True, "video_id": video_id, "job_id": job_id, "status": status,
            "status_url": f"/api/videos/{video_id}"}


@bp.get("/videos/<id:video_id>")
@jwt_required()
def video_status(video_id: int):
    """Status, progress and (when completed) the result of one of the caller's videos."""
    # The job first: the runner commits the video's result and the job's `completed` together, and each
    # statement may see a newer commit (READ COMMITTED), so a completed job read first guarantees the
    # video read after it carries the result. The other order could pair `completed` with no result.
    job = jobs_service.job_for_video(session=db.session, video_id=video_id)
    video = _own_video(video_id)
    return jsonify(success=True, video=serializers.video_status(video, job, _video_history_id(video_id)))


@bp.post("/videos/<id:video_id>/cancel")
@jwt_required()
def cancel_video(video_id: int):
    """Cancel the video's job if it is still queued or running."""
    video = _own_video(video_id)
    job = jobs_service.job_for_video(session=db.session, video_id=video_id)
    if job is None or not jobs_service.request_cancel(session=db.session, job=job):
        raise Conflict("This video is not being processed any more", code="not_active")
    _drop_from_queue(job.id)
    return jsonify(success=True, message="Cancellation requested",
                   video=serializers.video_status(video, job, None))


@bp.delete("/videos/<id:video_id>")
@jwt_required()
def delete_video(video_id: int):
    """Delete one of the caller's videos in any state (a running job is stopped)."""
    active = service.delete_video(session=db.session, user_id=current_user_id(), video_id=video_id,
                                  upload_root=current_app.config["UPLOAD_FOLDER"])
    for job_id in active:
        _drop_from_queue(job_id)
    return jsonify(success=True, message="Video deleted")


@bp.post("/detect/camera")
@jwt_required()
def detect_camera():
    """Analyse one webcam frame (JSON: image data URL, optional model and session_id)."""
    user_id = current_user_id()
    data = json_object()
    image_value = string_field(data, "image")
    session_id = data.get("session_id")  # null or absent: no session; anything else must match exactly
    if session_id is not None and not (isinstance(session_id, str) and SESSION_ID_RE.fullmatch(session_id)):
        raise InvalidInput("session_id must be 1-64 letters, digits or _ . : -",
                           fields={"session_id": "Invalid format"})
    cfg = current_app.config
    frame = validation.decode_base64_image(image_value, limit=cfg["MAX_IMAGE_SIZE"])
    engine = get_engine()
    model_key = service.resolve_model_key(engine=engine, requested=data.get("model"),
                                          default=cfg["CAMERA_DEFAULT_MODEL"])
    claim = idempotency.claim_request(user_id=user_id, endpoint="detect_camera", fields={
        "model": model_key, "session_id": session_id, "sha256": digest_bytes(frame)} if idempotency.wants_key() else {})
    if isinstance(claim, Response):
        return claim
    with idempotency.released_on_failure(claim):
        detection, history, verdict = service.detect_camera_frame(
            session=db.session, engine=engine, store=state.smoothing_store(), upload_root=cfg["UPLOAD_FOLDER"],
            user_id=user_id, data=frame, session_id=session_id, model_key=model_key,
            before_commit=lambda row, item, result: claim.answer(200, serializers.camera_result(row, item, result)))
    body = serializers.camera_result(detection, history, verdict)
    # Frames only pile up through this endpoint, so it is where old ones are cleared (one bounded batch
    # per interval; the CLI command clears any backlog at once).
    retention.purge_when_due(session=db.session, upload_root=cfg["UPLOAD_FOLDER"],
                             days=cfg["CAMERA_FRAME_RETENTION_DAYS"], batch=cfg["CAMERA_FRAME_PURGE_BATCH"],
                             throttle=current_app.extensions[PURGE_THROTTLE_KEY])
    return jsonify(body)


def _async_flag() -> bool:
    """The `async` form field or query parameter (at most one of each); absent means wait."""
    in_form, in_query = request.form.getlist("async"), query_value("async")
    if len(in_form) > 1:
        raise InvalidInput("async must be given at most once", fields={"async": "Given more than once"})
    raw = in_form[0] if in_form else in_query
    if raw is None:
        return False
    if raw not in ASYNC_WORDS:
        message = f"async must be one of: {', '.join(ASYNC_WORDS)}"
        raise InvalidInput(message, fields={"async": message})
    return ASYNC_WORDS[raw]


def _drop_from_queue(job_id: int) -> None:
    """Tell the backend to drop a job; the database flag already stops it, so a failure is only logged."""
    try:
        get_backend().cancel(job_id)
    except Exception:
        current_app.logger.exception("Could not tell the job backend to drop job %s", job_id)


def _own_video(video_id: int) -> Video:
    """The caller's video, or 404 (also for other users' videos: their existence is not revealed)."""
    video = db.session.get(Video, video_id)
    if video is None or video.user_id != current_user_id():
        raise NotFound("Video not found")
    return video


def _video_history_id(video_id: int) -> int | None:
    """The history row of a completed video."""
    return db.session.execute(
        select(DetectionHistory.id).where(DetectionHistory.detection_type == "video",
                                          DetectionHistory.content_id == video_id)
    ).scalar_one_or_none()


def init_app(app: Flask) -> None:
    """Register the blueprint, the camera frame purge throttle and the housekeeping commands."""
    app.register_blueprint(bp)
    app.extensions[PURGE_THROTTLE_KEY] = retention.PurgeThrottle(app.config["CAMERA_FRAME_PURGE_INTERVAL"])
    app.cli.add_command(cli.purge_camera_frames_command)
    app.cli.add_command(cli.sweep_orphan_files_command)
