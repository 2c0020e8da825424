"""The answer shape of /api/stats (serialisation and the OpenAPI document come from it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..schemas_common import ResponseModel


class ByType(ResponseModel):
    """Detections per kind."""

    image: int
    video: int
    camera: int


class DailyCount(ResponseModel):
    """Fake and real verdicts of one UTC day (split by is_fake), and how many of them were uncertain."""

    date: str
    fake: int
    real: int
    uncertain: int = Field(description="the day's items whose three-way verdict is uncertain (fake or real by is_fake)")


class Stats(ResponseModel):
    """200 of GET /api/stats."""

    success: bool
    total_detections: int
    fake_count: int
    real_count: int
    # Added: the uncertain ones are also among fake_count or real_count.
    uncertain_count: int = Field(
        description="detections whose three-way verdict is uncertain; each is also counted in fake_count or "
        "real_count by is_fake, so total_detections = fake_count + real_count still holds"
    )
    accuracy: float = Field(
        description="% of the user's feedback marked correct; without feedback the mean "
        "confidence of the user's detections (0 with none)"
    )
    accuracy_basis: Literal["feedback", "confidence"] = Field(description="what `accuracy` is computed from")
    average_confidence: float
    feedback_count: int
    by_type: ByType
    daily: list[DailyCount]
