"""Request and answer shapes of /api/history (validation, serialisation and the OpenAPI document come from them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field, Strict, StrictBool

from ..schemas_common import QUERY_INTEGER, Number, OneOf, RequestModel, ResponseModel, String
from ..serialization import iso, media_url
from .models import DETECTION_TYPES, VERDICTS

if TYPE_CHECKING:
    from ..detection.models import DetectionContent
    from .models import DetectionHistory

MAX_PER_PAGE = 100
# Far beyond any real history, and small enough that (page - 1) * per_page fits every database's integers.
MAX_PAGE = 1_000_000
VERDICT_MESSAGE = f"verdict must be one of: {', '.join(VERDICTS)}"


class HistoryQuery(RequestModel):
    """GET /api/history's query string: all of it, or one page, optionally filtered."""

    page: Annotated[int, Strict(), Field(ge=1, le=MAX_PAGE), QUERY_INTEGER] | None = None
    per_page: Annotated[int, Strict(), Field(ge=1, le=MAX_PER_PAGE), QUERY_INTEGER] | None = None
    detection_type: Annotated[str, OneOf(DETECTION_TYPES)] | None = Field(default=None, alias="type")
    verdict: Annotated[str, OneOf(VERDICTS)] | None = Field(
        default=None, description="The three-way verdict; an item without one counts as fake or real by is_fake"
    )
    messages: ClassVar[dict[str, tuple[str, str]]] = {
        "type": (f"type must be one of: {', '.join(DETECTION_TYPES)}", "Invalid value"),
        "verdict": (VERDICT_MESSAGE, "Invalid value"),
    }


class FeedbackRequest(RequestModel):
    """POST /api/history/<id>/feedback."""

    correct: StrictBool
    messages: ClassVar[dict[str, tuple[str, str]]] = {"correct": ("correct must be true or false", "Must be a boolean")}


class HistoryItem(ResponseModel):
    """A detection: the documented DetectionHistory columns plus feedback, filename, media_url (and detail alone)."""

    id: int
    detection_type: Annotated[str, OneOf(DETECTION_TYPES)]
    content_id: int
    is_fake: bool
    confidence_score: Number
    detection_time: str
    model_version: String
    feedback: bool | None
    filename: str | None
    media_url: str | None
    detail: dict[str, Any] | None = None
    # Added after the documented fields; null when the detection has none (e.g. judged before it existed).
    verdict: Annotated[str, OneOf(VERDICTS)] | None = Field(
        default=None, description="fake, uncertain or real (null: the detection has no three-way verdict)"
    )

    @classmethod
    def of(cls, row: DetectionHistory, content: DetectionContent | None, *, detail: bool = False) -> HistoryItem:
        """The history row and its content row (None once gone) as the answer shape; `detail` adds the content's."""
        item = cls.model_validate(
            {
                "id": row.id,
                "detection_type": row.detection_type,
                "content_id": row.content_id,
                "is_fake": row.is_fake,
                "confidence_score": row.confidence_score,
                "detection_time": iso(row.detection_time),
                "model_version": row.model_version,
                "feedback": row.feedback_correct,
                "filename": getattr(content, "filename", None),
                "media_url": media_url(row.id) if content is not None and content.media() else None,
                "verdict": row.verdict,
            }
        )
        if detail:
            item.detail = content.detail(row.id) if content is not None else None
        return item


class HistoryList(ResponseModel):
    """200 of GET /api/history."""

    success: bool
    history: list[HistoryItem]
    count: int
    total: int
    page: int | None
    per_page: int | None
    pages: int


class HistoryEntry(ResponseModel):
    """200 of GET /api/history/<id>: one item with its detail."""

    success: bool
    item: HistoryItem


class FeedbackRecorded(ResponseModel):
    """200 of POST /api/history/<id>/feedback."""

    success: bool
    message: str
    item: HistoryItem
