"""Request and answer shapes of /api/admin/calibrations (validation, serialisation and the OpenAPI document)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, Strict

from ..detection.schemas import ModelKey
from ..schemas_common import OneOf, RequestModel, ResponseModel
from ..serialization import iso
from .models import SOURCES

if TYPE_CHECKING:
    from .models import CalibrationRecord

MODEL_KEY_LENGTH = 80  # the column's size


class CalibrationQuery(RequestModel):
    """GET /api/admin/calibrations's query string: optionally one model's calibrations."""

    model: Annotated[str, Strict(), Field(min_length=1, max_length=MODEL_KEY_LENGTH)] | None = None


class ModelRequest(RequestModel):
    """POST /api/admin/calibrations/feedback and /deactivate: the model, always named (empty: the default)."""

    model: ModelKey


class UploadForm(RequestModel):
    """POST /api/admin/calibrations/upload's multipart form: labelled images (repeated fields) and the model."""

    model: ModelKey = "dima806"
    real: list[bytes] = Field(description="images known to be real (the field repeated, one file each)")
    fake: list[bytes] = Field(description="images known to be fake (the field repeated, one file each)")


class ReliabilityPoint(ResponseModel):
    """One bin of the reliability chart: its score range, how many examples, their mean score and fake rate."""

    low: float
    high: float
    count: float
    mean_probability: float
    fake_rate: float


class Reliability(ResponseModel):
    """The chart's points before (raw scores) and after the calibration, on the examples it was fitted on."""

    before: list[ReliabilityPoint]
    after: list[ReliabilityPoint]


class CalibrationItem(ResponseModel):
    """A stored calibration: what it was fitted on, how well, and whether it is applied (detail adds the chart)."""

    id: int
    model_key: str
    model_revision: str | None
    method: str
    source: Annotated[str, OneOf(SOURCES)]
    n_real: int
    n_fake: int
    brier_before: float
    brier_after: float
    ece_before: float
    ece_after: float
    active: bool
    created_at: str
    created_by: str | None = Field(description="the administrator's username (null once the account is gone)")
    activated_at: str | None
    basis: dict[str, Any] | None = Field(
        default=None,
        description="the ensemble's only: the members and their calibrations' ids it was fitted over, "
        '{"members": [{"key", "calibration_id"}]}; applied only while the same are in force',
    )
    reliability: Reliability | None = None

    @classmethod
    def of(cls, record: CalibrationRecord, creator: str | None, *, detail: bool = False) -> CalibrationItem:
        """The record as the answer shape; `detail` adds its reliability points."""
        item = cls.model_validate(
            {
                "id": record.id,
                "model_key": record.model_key,
                "model_revision": record.model_revision,
                "method": record.method,
                "source": record.source,
                "n_real": record.n_real,
                "n_fake": record.n_fake,
                "brier_before": record.brier_before,
                "brier_after": record.brier_after,
                "ece_before": record.ece_before,
                "ece_after": record.ece_after,
                "active": record.active,
                "created_at": iso(record.created_at),
                "created_by": creator,
                "activated_at": iso(record.activated_at),
                "basis": record.basis,
            }
        )
        if detail:
            stored: dict[str, Any] = record.reliability or {}
            item.reliability = Reliability.model_validate(
                {"before": stored.get("before", []), "after": stored.get("after", [])}
            )
        return item


class CalibrationList(ResponseModel):
    """200 of GET /api/admin/calibrations."""

    success: bool
    calibrations: list[CalibrationItem]
    count: int
    active: dict[str, int | None] = Field(
        description="per model key (every offered model, and any other with calibrations): the active id or null"
    )


class CalibrationEntry(ResponseModel):
    """200 of GET and POST .../<id>/activate, 201 of POST .../feedback: one calibration with its chart."""

    success: bool
    calibration: CalibrationItem


class SkippedFile(ResponseModel):
    """An uploaded file that could not be scored."""

    filename: str
    label: Annotated[str, OneOf(("real", "fake"))]
    reason: str


class CalibrationUploaded(ResponseModel):
    """201 of POST /api/admin/calibrations/upload: the calibration, and the files skipped as unreadable."""

    success: bool
    calibration: CalibrationItem
    scored: int
    skipped: int
    skipped_files: list[SkippedFile]


class Deactivated(ResponseModel):
    """200 of POST /api/admin/calibrations/deactivate: the calibration switched off (null: none was active)."""

    success: bool
    deactivated: int | None
