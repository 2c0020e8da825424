"""Request and answer shapes of /api/detect/* and /api/videos/* (validation, serialisation and the OpenAPI
document come from them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field, Strict, StrictBool

from ..schemas_common import (
    Flag,
    Integer,
    ModelKeyField,
    Number,
    OneOf,
    RequestModel,
    ResponseModel,
    StoredJson,
    String,
    Text,
)
from ..serialization import FAKE_MESSAGE, REAL_MESSAGE, iso, media_url, verdict_message

if TYPE_CHECKING:
    from ..history.models import DetectionHistory
    from ..jobs.models import Job
    from .models import CameraDetection, Image, Video

SESSION_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
# The words `async` (form field or query) and the image form's `robustness` take; anything else is a 400.
ASYNC_WORDS = {
    "true": True,
    "True": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "False": False,
    "0": False,
    "no": False,
    "off": False,
}
ASYNC_MESSAGE = f"async must be one of: {', '.join(ASYNC_WORDS)}"
ROBUSTNESS_MESSAGE = f"robustness must be one of: {', '.join(ASYNC_WORDS)}"
ROBUSTNESS_DESCRIPTION = (
    "Run the robustness self-test (JPEG re-compression and half-size rescale of each face crop; a verdict that "
    "does not survive becomes uncertain). Absent: the deployment's DEEPFAKE_ROBUSTNESS"
)
JOB_STATUSES = ("queued", "processing", "completed", "failed", "cancelled")
# What GET /api/videos/<id> says while a job has no message of its own (a completed one says its verdict).
STATUS_MESSAGES = {
    "queued": "Waiting to start",
    "processing": "Analysing the video",
    "failed": "Video detection failed",
    "cancelled": "Cancelled",
}
# The trust fields of an image or camera answer, as ImageVerdict.trust() names them (null when not stored).
TRUST_DEFAULTS: dict[str, Any] = dict.fromkeys(
    ("verdict", "reasons", "members", "calibration", "robustness", "faces_summary")
)
VerdictMessage = Annotated[str, OneOf((FAKE_MESSAGE, REAL_MESSAGE))]
AsyncWord = Annotated[str, OneOf(tuple(ASYNC_WORDS))]
# A model key as a request field (its enum, the engine's keys, is filled in when the document is built; the
# service checks it against the engine, an unknown key is a 400 naming the available ones).
ModelKey = Annotated[str, Strict(), ModelKeyField()]


# Requests ------------------------------------------------------------------------------------------------------


class VideoSegment(ResponseModel):
    """A span of a video's sampled frames with the same verdict (times in seconds, the frames' own)."""

    start: float
    end: float
    verdict: Annotated[str, OneOf(("fake", "uncertain", "real"))]


# Added verdict fields, declared once for every answer that carries them (kept after the documented ones).
# The inference backend and precision that produced the verdict, e.g. "openvino/int8-static" (null: not recorded).
VerdictBackend = Annotated[str | None, Field(description="Inference backend/precision that produced the verdict")]
# Trust (docs/architecture.md "Trust"): null on answers stored before they were kept.
TrustVerdict = Annotated[str | None, Field(description="fake, uncertain or real")]
TrustReasons = Annotated[list[str] | None, Field(description="Why, in plain words")]
TrustMembers = Annotated[
    list[dict[str, Any]] | None,
    Field(description="Each model's key, name, raw and calibrated fake probability, band and backend"),
]
TrustCalibration = Annotated[dict[str, Any] | None, Field(description="Calibrations applied (null: raw scores)")]
TrustRobustness = Annotated[
    dict[str, Any] | None, Field(description="Robustness self-test: each member's variant probabilities and stable")
]
TrustFacesSummary = Annotated[str | None, Field(description='e.g. "1 of 2 faces looks manipulated"')]
# A video's trust fields (VideoVerdict.trust() in the engine), null on videos stored before they were kept.
VIDEO_TRUST_DEFAULTS: dict[str, Any] = dict.fromkeys(
    ("verdict", "reasons", "segments", "segments_text", "fake_share", "members", "calibration")
)
VideoSegments = Annotated[
    list[VideoSegment] | None,
    Field(description="Contiguous spans of sampled frames with the same verdict, from first to last frame time"),
]
SegmentsText = Annotated[str | None, Field(description='The segments in words, e.g. "fake 0-6 s, real 7-9 s"')]
FakeShare = Annotated[float | None, Field(ge=0, le=1, description="Fake frames / sampled frames")]
VideoMembers = Annotated[
    list[dict[str, Any]] | None,
    Field(
        description="Each model over the whole video: key, name, mean raw and calibrated fake probability, "
        "fake_frames, band, backend"
    ),
]


def _absent_means_a_setting(schema: dict[str, Any]) -> None:
    """A form field whose absence means a setting: declared with no default, and not nullable (a form has no null)."""
    schema.pop("default", None)
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])


class ImageForm(RequestModel):
    """POST /api/detect/image's multipart form (werkzeug reads it; its fields are checked in code)."""

    image: bytes
    model: ModelKey = "dima806"
    # Absent: the deployment's DEEPFAKE_ROBUSTNESS.
    robustness: AsyncWord | None = Field(
        default=None, description=ROBUSTNESS_DESCRIPTION, json_schema_extra=_absent_means_a_setting
    )


class RobustnessOption(RequestModel):
    """`robustness` of POST /api/detect/image's form, as a word (checked on its own: werkzeug reads the form)."""

    robustness: AsyncWord | None = None
    messages: ClassVar[dict[str, tuple[str, str]]] = {"robustness": (ROBUSTNESS_MESSAGE, ROBUSTNESS_MESSAGE)}


class AsyncOption(RequestModel):
    """`async` of POST /api/detect/video, as a query parameter (or form field)."""

    run_async: AsyncWord | None = Field(default=None, alias="async")
    messages: ClassVar[dict[str, tuple[str, str]]] = {"async": (ASYNC_MESSAGE, ASYNC_MESSAGE)}


class VideoForm(RequestModel):
    """POST /api/detect/video's multipart form (werkzeug reads it; the file, model and async are checked in code)."""

    video: bytes
    model: ModelKey = "dima806"
    run_async: AsyncWord = Field(default="false", alias="async")


class CameraRequest(RequestModel):
    """POST /api/detect/camera."""

    image: Annotated[Text, Field(description="data:image/jpeg;base64,... or bare base64")]
    # null or absent: no session; anything else must match exactly.
    session_id: Annotated[str, Strict(), Field(pattern=SESSION_ID_PATTERN)] | None = None
    model: ModelKey | None = Field(default=None, json_schema_extra={"default": "deep-fake-v2"})
    # null or absent: the deployment's DEEPFAKE_ROBUSTNESS.
    robustness: StrictBool | None = Field(default=None, description=ROBUSTNESS_DESCRIPTION)
    messages: ClassVar[dict[str, tuple[str, str]]] = {
        "session_id": ("session_id must be 1-64 letters, digits or _ . : -", "Invalid format"),
        "robustness": ("robustness must be true or false", "Must be a boolean"),
    }


# Answers -------------------------------------------------------------------------------------------------------


class ModelInfo(ResponseModel):
    """A detector this server offers (`available`: its weights are cached)."""

    key: str
    name: str
    description: str
    model_id: str
    default: bool
    available: bool
    # Only on the virtual `ensemble` model: the keys of the models it combines.
    members: list[str] | None = Field(default=None, description="The ensemble's member model keys")


class FileLimits(ResponseModel):
    """Largest upload in bytes and the allowed file extensions."""

    max_bytes: int
    extensions: list[str]


class CameraLimits(ResponseModel):
    """Largest frame in bytes (after base64 decoding) and the frame rates the camera may send."""

    max_bytes: int
    frame_rates: list[float]
    default_rate: float
    # CAMERA_FRAME_RETENTION_DAYS, for the camera page's notice; null: kept until the user deletes them.
    retention_days: int | None = Field(description="Days analysed frames are kept (null: until the user deletes them)")


class UploadLimits(ResponseModel):
    """Upload limits: sizes in bytes, allowed file extensions, camera frames per second"""

    image: FileLimits
    video: FileLimits
    camera: CameraLimits


class Models(ResponseModel):
    """200 of GET /api/detect/models."""

    success: bool
    models: list[ModelInfo]
    default: str
    camera_default: str
    limits: UploadLimits


class Box(StoredJson):
    """A face's box in pixels of the original image."""

    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0


class Face(StoredJson):
    """One classified face."""

    box: Box = Field(default_factory=Box)
    detection_score: float | None = None
    fake_probability: float = 0
    is_fake: bool = False
    confidence: float = 0


class FrameResult(StoredJson):
    """One sampled video frame on the timeline."""

    time: float = 0
    fake_probability: float = 0
    is_fake: bool = False
    faces: int = 0
    # Added (absent on frames stored before): the frame's three-way verdict and, for the ensemble, each member's.
    verdict: TrustVerdict = None
    members: Annotated[
        dict[str, float] | None, Field(description="Ensemble only: each member's fake probability on this frame")
    ] = None


class ImageResult(ResponseModel):
    """200 of POST /api/detect/image."""

    success: bool
    is_fake: Flag
    confidence: Number
    image_id: int
    model_used: String
    message: VerdictMessage
    model_key: String
    fake_probability: Number
    face_found: Flag
    faces: list[Face]
    width: Integer
    height: Integer
    processing_time_ms: Number
    history_id: int
    filename: str
    media_url: str | None
    backend: VerdictBackend
    # Trust (docs/architecture.md "Trust"): null on answers stored before they were kept.
    verdict: TrustVerdict = None
    reasons: TrustReasons = None
    members: TrustMembers = None
    calibration: TrustCalibration = None
    robustness: TrustRobustness = None
    faces_summary: TrustFacesSummary = None

    @classmethod
    def of(cls, image: Image, history: DetectionHistory) -> ImageResult:
        """The stored image and its history item as the answer."""
        return cls.model_validate(
            {
                "success": True,
                "is_fake": image.is_fake,
                "confidence": image.confidence_score,
                "image_id": image.id,
                "model_used": image.model_used or image.model_key,
                "message": verdict_message(image.is_fake),
                "model_key": image.model_key,
                "fake_probability": image.fake_probability,
                "face_found": image.face_found,
                "faces": image.faces or [],
                "width": image.width,
                "height": image.height,
                "processing_time_ms": image.processing_time_ms,
                "history_id": history.id,
                "filename": image.filename,
                "media_url": media_url(history.id),
                "backend": image.backend,
                **TRUST_DEFAULTS,
                **(image.trust or {}),
            }
        )


class VideoVerdict(ResponseModel):
    """The verdict fields of a finished video."""

    is_fake: Flag
    confidence: Number
    video_id: int
    model_used: String
    message: VerdictMessage
    model_key: String
    fake_probability: Number
    fake_frames: Integer
    real_frames: Integer
    frames_analyzed: Integer
    frames_skipped: Integer
    duration: Number
    fps: Number
    timeline: list[FrameResult]
    thumbnail_url: str | None
    processing_time_ms: Number
    history_id: int | None
    backend: VerdictBackend
    # Trust (docs/architecture.md "Trust"): null on videos stored before they were kept.
    verdict: TrustVerdict = None
    reasons: TrustReasons = None
    segments: VideoSegments = None
    segments_text: SegmentsText = None
    fake_share: FakeShare = None
    members: VideoMembers = None
    calibration: TrustCalibration = None

    @classmethod
    def of(cls, video: Video, history_id: int | None, **more: Any) -> Any:
        """The video row's verdict (with `more` fields, for a subclass)."""
        return cls(**cls._fields_of(video, history_id), **more)

    @staticmethod
    def _fields_of(video: Video, history_id: int | None) -> dict[str, Any]:
        return {
            "is_fake": video.is_fake,
            "confidence": video.confidence_score,
            "video_id": video.id,
            "model_used": video.model_used or video.model_key,
            "message": verdict_message(video.is_fake),
            "model_key": video.model_key,
            "fake_probability": video.fake_probability,
            "fake_frames": video.fake_frames,
            "real_frames": video.real_frames,
            "frames_analyzed": video.frames_analyzed,
            "frames_skipped": video.frames_skipped,
            "duration": video.duration,
            "fps": video.fps,
            "timeline": video.timeline or [],
            "thumbnail_url": media_url(history_id) if video.thumbnail_path else None,
            "processing_time_ms": video.processing_time_ms,
            "history_id": history_id,
            "backend": video.backend,
            **VIDEO_TRUST_DEFAULTS,
            **(video.trust or {}),
        }


class VideoResult(VideoVerdict):
    """200 of POST /api/detect/video: the verdict, once the analysis finished within the wait."""

    success: bool
    job_id: int
    filename: str


class VideoAccepted(ResponseModel):
    """202 of POST /api/detect/video: where to follow the video's job."""

    success: bool
    video_id: int
    job_id: int
    status: str
    status_url: str

    @classmethod
    def of(cls, video_id: int, job_id: int, status: str) -> VideoAccepted:
        """The answer for the video's job in this status."""
        return cls(success=True, video_id=video_id, job_id=job_id, status=status, status_url=f"/api/videos/{video_id}")


class VideoStatus(ResponseModel):
    """A video's status and progress; once completed, also the verdict fields of VideoResult."""

    model_config = ResponseModel.model_config | {"extra": "allow"}

    id: int
    filename: str
    file_size: int
    upload_date: str
    status: Annotated[str, OneOf(JOB_STATUSES)]
    progress: int
    message: str
    job_id: int | None
    model_key: str | None
    # Why a failed or cancelled job ended (app/domain_errors.py); clients branch on it, not on the message.
    error_code: str | None

    @classmethod
    def of(cls, video: Video, job: Job | None, history_id: int | None) -> VideoStatus:
        """The video row and its job (None: none yet or gone) as the answer."""
        status = job.status if job else video.processing_status
        answer = cls(
            id=video.id,
            filename=video.filename,
            file_size=video.file_size,
            upload_date=iso(video.upload_date),
            status=status,
            progress=job.progress if job else (100 if video.processing_status == "completed" else 0),
            message=(job.message if job else None) or STATUS_MESSAGES.get(status, status),
            job_id=job.id if job else None,
            model_key=video.model_key,
            error_code=job.error_code if job else None,
        )
        if status == "completed":
            verdict = VideoVerdict.of(video, history_id).model_dump(exclude_unset=True)
            return cls(**{**answer.model_dump(exclude_unset=True), **verdict})
        return answer


class VideoState(ResponseModel):
    """200 of GET /api/videos/<id>."""

    success: bool
    video: VideoStatus


class VideoCancelled(ResponseModel):
    """200 of POST /api/videos/<id>/cancel."""

    success: bool
    message: str
    video: VideoStatus


class CameraResult(ResponseModel):
    """200 of POST /api/detect/camera: the smoothed verdict plus this frame's own result."""

    success: bool
    is_fake: Flag
    confidence: Number
    model_used: String
    message: VerdictMessage
    model_key: String
    fake_probability: Number
    frame: dict[str, Any] | None
    window_size: Integer
    frames_in_window: Integer
    fake_votes: Integer
    session_id: str | None
    detection_id: int
    history_id: int
    backend: VerdictBackend
    # Trust (docs/architecture.md "Trust"): this frame's, the smoothed is_fake may differ; null on older frames.
    verdict: TrustVerdict = None
    reasons: TrustReasons = None
    members: TrustMembers = None
    calibration: TrustCalibration = None
    robustness: TrustRobustness = None
    faces_summary: TrustFacesSummary = None

    @classmethod
    def of(cls, detection: CameraDetection, history: DetectionHistory) -> CameraResult:
        """The stored frame and its history item as the answer."""
        return cls.model_validate(
            {
                "success": True,
                "is_fake": detection.is_fake,
                "confidence": detection.confidence_score,
                "model_used": detection.model_used or detection.model_key,
                "message": verdict_message(detection.is_fake),
                "model_key": detection.model_key,
                "fake_probability": detection.fake_probability,
                "frame": detection.frame_result,
                "backend": (detection.frame_result or {}).get("backend"),
                **{k: (detection.frame_result or {}).get(k) for k in TRUST_DEFAULTS},
                "window_size": detection.window_size,
                "frames_in_window": detection.frames_in_window,
                "fake_votes": detection.fake_votes,
                "session_id": detection.session_id,
                "detection_id": detection.id,
                "history_id": history.id,
            }
        )
