"""Every table of the service, imported in one place for Alembic and create_app."""

from .auth.models import RevokedToken, User
from .calibration.models import CalibrationRecord
from .detection.models import CameraDetection, Image, Video
from .history.models import DetectionHistory
from .idempotency.models import IdempotencyKey
from .jobs.models import Job

__all__ = [
    "User",
    "RevokedToken",
    "Image",
    "Video",
    "CameraDetection",
    "DetectionHistory",
    "Job",
    "IdempotencyKey",
    "CalibrationRecord",
]
