"""Detection use cases: run the engine, store the media and the records together or not at all."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...engine import (
    ENSEMBLE_KEY,
    Calibration,
    CameraVerdict,
    DetectionCancelled,
    DetectionEngine,
    EngineError,
    ImageVerdict,
    InvalidMediaError,
    ModelLabelError,
    ModelUnavailableError,
    SmoothingStore,
    UnknownModelError,
    VideoVerdict,
)
from .. import domain_errors
from ..calibration.active import ActiveCalibration, active_calibrations
from ..domain_errors import (
    Cancelled,
    Conflict,
    DomainError,
    Internal,
    InvalidInput,
    InvalidMedia,
    ModelMisconfigured,
    ModelUnavailable,
    NotFound,
    TooLarge,
    UnknownModel,
)
from ..history import service as history_service
from ..history.models import DetectionHistory
from ..jobs import service as jobs_service
from ..jobs.models import CANCELLED, COMPLETED, FAILED, Job
from ..jobs.service import JobBackend
from ..serialization import size_text
from ..storage import service as storage
from . import validation
from .models import CameraDetection, DetectionContent, Image, Video

log = logging.getLogger(__name__)

ContentT = TypeVar("ContentT", bound=DetectionContent)


@dataclass(frozen=True)
class VideoState:
    """A video as its owner sees it: the row, its latest job, and its history row once completed."""

    video: Video
    job: Job | None
    history_id: int | None = None


@dataclass(frozen=True)
class VideoOutcome:
    """Where an uploaded video stands when the request answers: completed, processing or queued."""

    video: Video
    job_id: int
    status: str
    history_id: int | None = None


def domain_error_from_engine(exc: Exception) -> DomainError | None:
    """The domain error for an engine error (the one place they are translated); None for any other exception."""

    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, InvalidMediaError):
        return InvalidMedia(exc.message)
    if isinstance(exc, UnknownModelError):
        return UnknownModel(exc.message, fields={"model": exc.message})
    if isinstance(exc, ModelUnavailableError):
        return ModelUnavailable(exc.message, details={"command": exc.command, "model": exc.key})
    if isinstance(exc, ModelLabelError):
        return ModelMisconfigured(exc.message)
    if isinstance(exc, DetectionCancelled):
        return Cancelled(exc.message)
    if isinstance(exc, EngineError):
        return Internal("Detection failed")
    return None


def list_models(*, engine: DetectionEngine, ensemble: bool = False) -> list[dict[str, Any]]:
    """The documented model list plus model_id, default and available (weights cached).

    ``ensemble``: the virtual `ensemble` model last, with its members' keys.
    """
    models = []
    for spec in engine.models():
        models.append(
            {
                "key": spec.key,
                "name": spec.name,
                "description": spec.description or "",
                "model_id": spec.model_id,
                "default": bool(spec.is_default),
                "available": bool(engine.is_cached(spec.key)),
            }
        )
    if ensemble:
        members = [spec.key for spec in engine.ensemble_members()]
        models.append(
            {
                "key": ENSEMBLE_KEY,
                "name": f"Ensemble ({len(members)} model{'' if len(members) == 1 else 's'})",
                "description": "Every member judges the image or each video frame; uncertain when they disagree",
                "model_id": "",
                "default": False,
                "available": bool(members) and all(engine.is_cached(key) for key in members),
                "members": members,
            }
        )
    return models


def model_keys(*, engine: DetectionEngine) -> list[str]:
    """Every key a request may name: the models, then the ensemble."""
    return [*(spec.key for spec in engine.models()), ENSEMBLE_KEY]


def resolve_model_key(*, engine: DetectionEngine, requested: str | None, default: str | None = None) -> str:
    """The model key to use (absent, null or empty: the default); 400 for an unknown one (before anything is stored).

    Empty means the default because the documentation calls the field optional, and a client's form with
    no model chosen sends it empty.
    """
    key = requested if requested not in (None, "") else default or engine.default_model_key
    if not isinstance(key, str):
        raise InvalidInput("model must be a string", fields={"model": "Must be a string"})
    known = model_keys(engine=engine)
    if key not in known:
        message = f"Unknown model '{key}'. Available models: {', '.join(known)}."
        raise UnknownModel(message, fields={"model": message})
    return key


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _maps(active: dict[str, ActiveCalibration]) -> dict[str, Calibration]:
    """The calibration maps the engine applies, per model key."""
    return {key: found.calibration for key, found in active.items()}


def _name_calibrations(verdict: ImageVerdict | VideoVerdict, active: dict[str, ActiveCalibration]) -> None:
    """Name each applied calibration by its id and N in the verdict (the engine knows only the maps)."""
    applied = (verdict.calibration or {}).get("members", {})
    for key, described in applied.items():
        if key in active:
            described.update(active[key].describe())
    combination = (verdict.calibration or {}).get("ensemble")
    if combination is not None and ENSEMBLE_KEY in active:
        combination.update(active[ENSEMBLE_KEY].describe())


def detect_image(
    *,
    session: Session,
    engine: DetectionEngine,
    upload_root: str,
    user_id: int,
    data: bytes,
    original_name: str | None,
    model_key: str,
    robustness: bool | None = None,
    before_commit: Callable[..., object] | None = None,
) -> tuple[Image, DetectionHistory, ImageVerdict]:
    """Check, analyse, then store an uploaded image; returns (image, history, verdict).

    ``robustness``: run the robustness self-test (None: the deployment's DEEPFAKE_ROBUSTNESS).
    ``before_commit(image, history, verdict)`` runs in the transaction that stores the rows (it records
    the request's idempotent answer with them).
    """
    extension = storage.extension_of(original_name)
    validation.check_image_extension(extension)
    validation.check_image_content(data, extension=extension)
    active = active_calibrations(session=session)
    try:
        verdict = engine.detect_image(data, model_key=model_key, robustness=robustness, calibrations=_maps(active))
    except Exception as exc:
        raise _engine_failure(exc) from None
    _name_calibrations(verdict, active)
    relative = storage.new_relative_path(folder="images", extension=extension)

    def image_row() -> Image:
        return Image(
            user_id=user_id,
            filename=storage.display_name(original_name, fallback=f"image.{extension}"),
            file_path=relative,
            file_size=len(data),
            is_fake=verdict.is_fake,
            confidence_score=verdict.confidence,
            processing_status="completed",
            model_used=verdict.model_name,
            processed_at=_now(),
            model_key=verdict.model_key,
            fake_probability=verdict.fake_probability,
            face_found=verdict.face_found,
            faces=[face.to_dict() for face in verdict.faces],
            width=verdict.width,
            height=verdict.height,
            processing_time_ms=verdict.processing_time_ms,
            backend=verdict.backend,
            trust=verdict.trust(),
        )

    image, history = _store_with_history(
        session=session,
        upload_root=upload_root,
        relative=relative,
        data=data,
        make_row=image_row,
        verdict=verdict,
        three_way=verdict.verdict,
        before_commit=before_commit,
    )
    return image, history, verdict


def store_video_upload(
    *,
    session: Session,
    engine: DetectionEngine,
    upload_root: str,
    user_id: int,
    stream: BinaryIO,
    original_name: str | None,
    model_key: str,
    limit: int,
    max_active_jobs: int = 0,
    before_commit: Callable[..., object] | None = None,
) -> tuple[Video, Job]:
    """Store an uploaded video (checked by extension and content) with a queued job for it.

    ``max_active_jobs`` (0 = none): 429 when the user already has that many queued/processing jobs.
    ``before_commit(video, job)`` runs in the transaction that stores the rows.
    """
    extension = storage.extension_of(original_name)
    validation.check_video_extension(extension)
    # Checked before the file is written (no upload stored for nothing), and again below, under a
    # lock, in the transaction that adds the job.
    try:
        jobs_service.check_active_job_limit(session=session, user_id=user_id, limit=max_active_jobs)
    finally:
        session.rollback()  # no transaction (on SQLite: no write lock) held while the file streams in
    relative = storage.new_relative_path(folder="videos", extension=extension)
    try:
        path, size = storage.write_stream(upload_root=upload_root, relative=relative, stream=stream, limit=limit)
    except OverflowError:
        raise TooLarge(f"Video too large: the limit is {size_text(limit)}") from None
    try:
        if size == 0:
            raise InvalidMedia("The uploaded video is empty")
        validation.check_video_content(path, extension=extension, engine=engine)
        jobs_service.check_active_job_limit(session=session, user_id=user_id, limit=max_active_jobs, lock=True)
        video = Video(
            user_id=user_id,
            filename=storage.display_name(original_name, fallback=f"video.{extension}"),
            file_path=relative,
            file_size=size,
            processing_status="queued",
            model_key=model_key,
        )
        session.add(video)
        session.flush()
        job = jobs_service.create_job(session=session, user_id=user_id, video_id=video.id, model_key=model_key)
        if before_commit is not None:
            before_commit(video, job)
        session.commit()
    except BaseException:
        session.rollback()
        storage.remove(upload_root=upload_root, relative=relative)
        raise
    return video, job


def analyse_video(
    *,
    session: Session,
    engine: DetectionEngine,
    backend: JobBackend,
    upload_root: str,
    user_id: int,
    stream: BinaryIO,
    original_name: str | None,
    model_key: str,
    limit: int,
    max_active_jobs: int,
    wait: bool,
    timeout: float,
    wait_slot: Callable[[], AbstractContextManager[bool]],
    before_commit: Callable[..., object] | None = None,
) -> VideoOutcome:
    """Store an uploaded video, queue its job and, when asked to ``wait``, wait for it up to ``timeout``.

    ``wait_slot()`` bounds the requests waiting at once (yields False when none is free: no wait).
    A job that failed or was cancelled while waited for raises the domain error its code stands for.
    ``before_commit(video, job)`` runs in the transaction that stores the rows.
    """
    job: Job | None  # None once waited for: the job row is gone (its video was deleted meanwhile)
    video, job = store_video_upload(
        session=session,
        engine=engine,
        upload_root=upload_root,
        user_id=user_id,
        stream=stream,
        original_name=original_name,
        model_key=model_key,
        limit=limit,
        max_active_jobs=max_active_jobs,
        before_commit=before_commit,
    )
    video_id, job_id = video.id, job.id
    jobs_service.submit(session=session, backend=backend, job_id=job_id, video_id=video_id)
    if not wait:
        return VideoOutcome(video=video, job_id=job_id, status="queued")
    with wait_slot() as waited:
        if waited:
            job = jobs_service.wait_for_job(
                session=session, job_id=job_id, timeout=timeout, waiter=getattr(backend, "wait", None)
            )
    if not waited:
        return VideoOutcome(video=video, job_id=job_id, status="queued")
    if job is not None and job.status == COMPLETED:
        # The row the job just completed (cast: Session.get is typed Optional; the code relies on it being there).
        video = cast(Video, session.get(Video, video_id, populate_existing=True))
        return VideoOutcome(
            video=video,
            job_id=job_id,
            status=COMPLETED,
            history_id=video_history_id(session=session, video_id=video_id),
        )
    if job is not None and job.status in (FAILED, CANCELLED):
        code = job.error_code or (Cancelled.code if job.status == CANCELLED else Internal.code)
        raise domain_errors.from_code(
            code,
            job.message or f"Video detection {job.status}",
            details={"video_id": video_id, "job_id": job_id, "status": job.status},
        )
    return VideoOutcome(video=video, job_id=job_id, status="processing")


def own_video(*, session: Session, user_id: int, video_id: int) -> Video:
    """The user's video; NotFound also for other users' videos (their existence is not revealed)."""
    video = session.get(Video, video_id)
    if video is None or video.user_id != user_id:
        raise NotFound("Video not found")
    return video


def video_file(*, session: Session, user_id: int, video_id: int, upload_root: str) -> tuple[Path, str]:
    """(absolute path, original name) of the user's uploaded video, for playing it back; NotFound if gone."""
    video = own_video(session=session, user_id=user_id, video_id=video_id)
    path = storage.absolute_path(upload_root=upload_root, relative=video.file_path)
    if not path.is_file():
        raise NotFound("The stored video file is missing")
    return path, video.filename


def video_history_id(*, session: Session, video_id: int) -> int | None:
    """The history row of a completed video."""
    return session.execute(
        select(DetectionHistory.id).where(DetectionHistory.video_id == video_id)
    ).scalar_one_or_none()


def video_state(*, session: Session, user_id: int, video_id: int) -> VideoState:
    """Status, progress and (when completed) the result of one of the user's videos."""
    # The job first: the runner commits the video's result and the job's `completed` together, and each
    # statement may see a newer commit (READ COMMITTED), so a completed job read first guarantees the
    # video read after it carries the result. The other order could pair `completed` with no result.
    job = jobs_service.job_for_video(session=session, video_id=video_id)
    video = own_video(session=session, user_id=user_id, video_id=video_id)
    return VideoState(video=video, job=job, history_id=video_history_id(session=session, video_id=video_id))


def cancel_video(*, session: Session, backend: JobBackend, user_id: int, video_id: int) -> VideoState:
    """Cancel the video's job if it is still queued or running; Conflict when it is not any more."""
    video = own_video(session=session, user_id=user_id, video_id=video_id)
    job = jobs_service.job_for_video(session=session, video_id=video_id)
    if job is None or not jobs_service.request_cancel(session=session, job=job):
        raise Conflict("This video is not being processed any more", code="not_active")
    _drop_from_queue(backend, job.id)
    return VideoState(video=video, job=job)


def _drop_from_queue(backend: JobBackend, job_id: int) -> None:
    """Tell the backend to drop a job; the database flag already stops it, so a failure is only logged."""
    try:
        backend.cancel(job_id)
    except Exception:
        log.exception("Could not tell the job backend to drop job %s", job_id)


def delete_video(*, session: Session, backend: JobBackend, user_id: int, video_id: int, upload_root: str) -> None:
    """Delete one of the user's videos whatever its state, with its jobs, history row and files.

    The same delete as DELETE /api/history/<id> (history.service.delete_detections): an active job is
    stopped and dropped from ``backend``'s queue.
    """
    video = own_video(session=session, user_id=user_id, video_id=video_id)
    history_service.delete_detections(session=session, contents=[video], upload_root=upload_root, backend=backend)


def analyse_stored_video(
    *,
    session: Session,
    engine: DetectionEngine,
    path: str | Path,
    model_key: str | None,
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> VideoVerdict:
    """Run the engine on a stored video with the deployment's active calibrations, each named by its id and N.

    Engine errors are raised as they are (the job runner translates them with domain_error_from_engine).
    """
    active = active_calibrations(session=session)
    verdict = engine.detect_video(
        path, model_key=model_key, calibrations=_maps(active), progress=progress, should_cancel=should_cancel
    )
    _name_calibrations(verdict, active)
    return verdict


def complete_video(*, session: Session, upload_root: str, video: Video, verdict: VideoVerdict) -> DetectionHistory:
    """Record a finished video analysis (verdict, thumbnail, history row) in the caller's transaction."""
    thumbnail = None
    if getattr(verdict, "thumbnail_jpeg", None):
        thumbnail = storage.new_relative_path(folder="videos", extension="jpg")
        storage.write_bytes(upload_root=upload_root, relative=thumbnail, data=verdict.thumbnail_jpeg)
    try:
        video.is_fake = verdict.is_fake
        video.confidence_score = verdict.confidence
        video.fake_probability = verdict.fake_probability
        video.fake_frames = verdict.fake_frames
        video.real_frames = verdict.real_frames
        video.frames_analyzed = verdict.frames_analyzed
        video.frames_skipped = verdict.frames_skipped
        video.duration = verdict.duration
        video.fps = verdict.fps
        video.timeline = [frame.to_dict() for frame in verdict.timeline]
        video.model_used = verdict.model_name
        video.model_key = verdict.model_key
        video.processing_time_ms = verdict.processing_time_ms
        video.backend = verdict.backend
        video.trust = verdict.trust()
        video.processing_status = "completed"
        video.processed_at = _now()
        video.thumbnail_path = thumbnail
        history = DetectionHistory.of(
            video,
            is_fake=verdict.is_fake,
            confidence=verdict.confidence,
            model_version=verdict.model_name,
            verdict=verdict.verdict,
        )
        session.add(history)
        session.flush()
    except BaseException:
        storage.remove(upload_root=upload_root, relative=thumbnail)
        raise
    return history


def detect_camera_frame(
    *,
    session: Session,
    engine: DetectionEngine,
    store: SmoothingStore,
    upload_root: str,
    user_id: int,
    data: bytes,
    session_id: str | None,
    model_key: str,
    robustness: bool | None = None,
    before_commit: Callable[..., object] | None = None,
) -> tuple[CameraDetection, DetectionHistory, CameraVerdict]:
    """Analyse one webcam frame with per-user/session smoothing; store frame and records.

    ``robustness``: run the robustness self-test on the frame (None: the deployment's DEEPFAKE_ROBUSTNESS).
    ``before_commit(detection, history, verdict)`` runs in the transaction that stores the rows.
    """
    validation.check_image_content(data, extension=_camera_extension(data))
    # The smoothing key includes the user id, so one user can never steer another's window.
    session_key = f"user:{user_id}:session:{session_id or 'default'}"
    active = active_calibrations(session=session)
    try:
        verdict = engine.detect_camera_frame(
            data,
            session_key=session_key,
            model_key=model_key,
            store=store,
            robustness=robustness,
            calibrations=_maps(active),
        )
    except Exception as exc:
        raise _engine_failure(exc) from None
    if verdict.frame is not None:
        _name_calibrations(verdict.frame, active)
    extension = _camera_extension(data)
    relative = storage.new_relative_path(folder="camera", extension=extension)

    def camera_row() -> CameraDetection:
        frame = verdict.frame
        return CameraDetection(
            user_id=user_id,
            is_fake=verdict.is_fake,
            confidence_score=verdict.confidence,
            frame_path=relative,
            model_used=verdict.model_name,
            model_key=verdict.model_key,
            session_id=session_id,
            fake_probability=verdict.fake_probability,
            frame_result=frame.to_dict() if frame is not None else None,
            window_size=verdict.window_size,
            frames_in_window=verdict.frames_in_window,
            fake_votes=verdict.fake_votes,
        )

    detection, history = _store_with_history(
        session=session,
        upload_root=upload_root,
        relative=relative,
        data=data,
        make_row=camera_row,
        verdict=verdict,
        # The frame's own three-way verdict, as the answer's `verdict` (the smoothed one is only fake/real).
        three_way=verdict.frame.verdict if verdict.frame is not None else None,
        before_commit=before_commit,
    )
    return detection, history, verdict


def _store_with_history(
    *,
    session: Session,
    upload_root: str,
    relative: str,
    data: bytes,
    make_row: Callable[[], ContentT],
    verdict: ImageVerdict | CameraVerdict,
    three_way: str | None,
    before_commit: Callable[[ContentT, DetectionHistory, Any], object] | None = None,
) -> tuple[ContentT, DetectionHistory]:
    """Write the file, then commit its detection row with a history row: all of it or none of it.

    ``three_way``: the history row's verdict (fake, uncertain, real; None when the detection has none).
    """
    storage.write_bytes(upload_root=upload_root, relative=relative, data=data)
    try:
        row = make_row()
        session.add(row)
        session.flush()
        history = DetectionHistory.of(
            row,
            is_fake=verdict.is_fake,
            confidence=verdict.confidence,
            model_version=verdict.model_name,
            verdict=three_way,
        )
        session.add(history)
        if before_commit is not None:
            session.flush()  # the history id, for the answer
            before_commit(row, history, verdict)
        session.commit()
    except BaseException:
        # No row without its file, no file without its row.
        session.rollback()
        storage.remove(upload_root=upload_root, relative=relative)
        raise
    return row, history


def _camera_extension(data: bytes) -> str:
    """Extension for a camera frame, from its magic bytes (browsers send JPEG, PNG or WebP)."""
    if data.startswith(b"\x89PNG"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "jpg"


def _engine_failure(exc: Exception) -> DomainError:
    """Turn an engine exception into a domain error, logging the unexpected ones."""
    error = domain_error_from_engine(exc)
    if error is None:
        log.exception("Detection failed unexpectedly", exc_info=exc)
        return Internal("Detection failed")
    return error
