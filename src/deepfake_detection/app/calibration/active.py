"""The deployment's active calibrations, as detection applies them (no fitting here: detection imports this)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...engine import Calibration
from ..database import read_only
from .models import CalibrationRecord


@dataclass(frozen=True)
class ActiveCalibration:
    """An active calibration as inference applies it, with what every answer names."""

    id: int
    model_key: str
    n_real: int
    n_fake: int
    calibration: Calibration

    def describe(self) -> dict[str, int]:
        """What an answer says of it: its id (its version) and the examples it was fitted on."""
        return {"id": self.id, "n_real": self.n_real, "n_fake": self.n_fake}


def stored_calibration(record: CalibrationRecord) -> Calibration:
    """The engine's calibration a stored record holds."""
    return Calibration.from_dict(record.parameters)


def active_calibrations(*, session: Session) -> dict[str, ActiveCalibration]:
    """The active calibration of each model that has one, ready to apply (a short read, then no transaction)."""
    # Its own short read before the model runs, ended at once: a POST's transaction would begin by taking
    # SQLite's write lock (the request's default), which a read has no need of.
    session.rollback()
    session.connection(execution_options=read_only())
    records = session.scalars(select(CalibrationRecord).where(CalibrationRecord.active)).all()
    found = {
        record.model_key: ActiveCalibration(
            id=record.id,
            model_key=record.model_key,
            n_real=record.n_real,
            n_fake=record.n_fake,
            calibration=stored_calibration(record),
        )
        for record in records
    }
    session.rollback()
    return found
