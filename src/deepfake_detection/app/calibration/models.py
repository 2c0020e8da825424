"""The calibration table: every fitted calibration is kept; at most one per model is active."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from ..auth.models import utcnow
from ..extensions import db

# Where the labelled examples came from.
SOURCES = ("feedback", "labelled_upload", "labelled_folder", "evaluation")


class CalibrationRecord(db.Model):
    """One fitted calibration of one model (or of the ensemble's combination), with how well it fitted."""

    __tablename__ = "calibration"
    __table_args__ = {"sqlite_autoincrement": True}  # an answer names its calibration by id: never reused

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_key: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    # The weights it was fitted on (HF revision or local directory); another revision needs its own fit.
    model_revision: Mapped[str | None] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(20), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    n_real: Mapped[int] = mapped_column(Integer, nullable=False)
    n_fake: Mapped[int] = mapped_column(Integer, nullable=False)
    brier_before: Mapped[float] = mapped_column(Float, nullable=False)
    brier_after: Mapped[float] = mapped_column(Float, nullable=False)
    ece_before: Mapped[float] = mapped_column(Float, nullable=False)
    ece_after: Mapped[float] = mapped_column(Float, nullable=False)
    # engine.calibration.Calibration.to_dict(): method, parameters and metrics, JSON (never pickle).
    parameters: Mapped[dict] = mapped_column(JSON, nullable=False)
    # Reliability points (mean score vs fake rate per bin) before and after, for the administrator's chart.
    reliability: Mapped[dict] = mapped_column(JSON, nullable=False)
    # The ensemble's calibration only: the members and the ids of their calibrations it was fitted over,
    # {"members": [{"key": KEY, "calibration_id": ID or null}]}; it applies only while they are in force.
    basis: Mapped[dict | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# One active calibration per model, enforced by the database (two administrators switching at once).
Index(
    "uq_calibration_active_model",
    CalibrationRecord.model_key,
    unique=True,
    sqlite_where=text("active"),
    postgresql_where=text("active"),
)
