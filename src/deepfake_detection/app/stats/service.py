"""Per-user statistics; accuracy comes from the user's own feedback when there is any."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, SupportsFloat, SupportsInt, cast

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..history.models import DETECTION_TYPES, DetectionHistory

DAILY_DAYS = 30


def user_stats(*, session: Session, user_id: int, today: date | None = None) -> dict[str, Any]:
    """Totals, accuracy, per type and per day.

    The documented totals split by is_fake (`total_detections = fake_count + real_count`); `uncertain_count`
    counts the items whose three-way verdict is uncertain, whichever side of is_fake they fall on.

    `accuracy` is always a number (documented clients format it): the share of the user's feedback marked
    correct when there is feedback, else the documented meaning, the mean confidence of the user's
    detections (0 with none); `accuracy_basis` says which ("feedback" or "confidence").
    """
    h = DetectionHistory
    mine = h.user_id == user_id
    # cast: SQLAlchemy types these aggregates as object; the database answers numbers (Decimal for sums on PostgreSQL).
    total, fake, uncertain, avg_conf, feedback, correct = cast(
        tuple[int, SupportsInt, SupportsInt, SupportsFloat | None, int, SupportsInt],
        session.execute(
            select(
                func.count(h.id),
                func.coalesce(func.sum(case((h.is_fake.is_(True), 1), else_=0)), 0),
                func.coalesce(func.sum(case((h.verdict == "uncertain", 1), else_=0)), 0),
                func.avg(h.confidence_score),
                func.count(h.feedback_correct),
                func.coalesce(func.sum(case((h.feedback_correct.is_(True), 1), else_=0)), 0),
            ).where(mine)
        ).one(),
    )
    by_type = {kind: 0 for kind in DETECTION_TYPES}
    for kind, count in session.execute(
        select(h.detection_type, func.count(h.id)).where(mine).group_by(h.detection_type)
    ):
        by_type[kind] = count
    average_confidence = round(float(avg_conf), 2) if avg_conf is not None else 0.0
    return {
        "total_detections": total,
        "fake_count": int(fake),
        "real_count": total - int(fake),
        "uncertain_count": int(uncertain),
        "accuracy": round(100.0 * int(correct) / feedback, 2) if feedback else average_confidence,
        "accuracy_basis": "feedback" if feedback else "confidence",
        "average_confidence": average_confidence,
        "feedback_count": feedback,
        "by_type": by_type,
        "daily": _daily(session, user_id, today or datetime.now(timezone.utc).date()),
    }


def _daily(session: Session, user_id: int, today: date) -> list[dict[str, Any]]:
    """Fake/real counts (by is_fake) and uncertain counts per UTC day for the last DAILY_DAYS days.

    Oldest first, empty days included; a day's uncertain items are also among its fake or real ones.

    Grouped in Python: date functions differ between SQLite and PostgreSQL.
    """
    start = today - timedelta(days=DAILY_DAYS - 1)
    since = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
    days = {start + timedelta(days=i): {"fake": 0, "real": 0, "uncertain": 0} for i in range(DAILY_DAYS)}
    rows = session.execute(
        select(DetectionHistory.detection_time, DetectionHistory.is_fake, DetectionHistory.verdict).where(
            DetectionHistory.user_id == user_id, DetectionHistory.detection_time >= since
        )
    )
    for when, is_fake, verdict in rows:
        if when.tzinfo is not None:
            when = when.astimezone(timezone.utc)
        bucket = days.get(when.date())
        if bucket is not None:
            bucket["fake" if is_fake else "real"] += 1
            bucket["uncertain"] += verdict == "uncertain"
    return [{"date": day.isoformat(), **counts} for day, counts in days.items()]
