"""Fit, list, switch and roll back calibrations; the active ones are what inference applies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, BinaryIO

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ...engine import (
    ENSEMBLE_KEY,
    Calibration,
    CalibrationError,
    DetectionEngine,
    InvalidMediaError,
    reliability_bins,
)
from ...engine.calibration_fit import fit_calibration
from ..auth.models import User
from ..auth.service import require_admin
from ..detection.models import Image
from ..detection.service import domain_error_from_engine
from ..domain_errors import Conflict, InvalidInput, NotFound, TooLarge
from ..history.models import DetectionHistory
from ..serialization import size_text
from .active import active_calibrations
from .models import SOURCES, CalibrationRecord


@dataclass(frozen=True)
class LabelledFile:
    """One uploaded labelled example: its name, its label (1 = fake) and its contents (read one file at a time)."""

    filename: str
    label: int
    stream: BinaryIO


@dataclass
class UploadFit:
    """A calibration fitted on uploaded examples, and the files that could not be scored (file, why)."""

    record: CalibrationRecord
    scored: int
    skipped: list[tuple[LabelledFile, str]]


@dataclass(frozen=True)
class EnsembleBasis:
    """The ensemble's members and their calibrations in force: what a calibration of the combination depends on."""

    member_ids: dict[str, int | None]  # each member's active calibration id (None: its raw score)
    calibrations: dict[str, Calibration]  # the members' calibrations, as the engine applies them
    engine_basis: dict[str, Any]  # DetectionEngine.ensemble_basis: what the engine checks at inference

    def stored(self) -> dict[str, Any]:
        """The calibration row's basis column."""
        return {"members": [{"key": key, "calibration_id": id_} for key, id_ in self.member_ids.items()]}


def ensemble_basis(*, session: Session, engine: DetectionEngine) -> EnsembleBasis:
    """The deployment's ensemble members now, with their active calibrations."""
    active = active_calibrations(session=session)
    keys = [spec.key for spec in engine.ensemble_members()]
    calibrations = {key: active[key].calibration for key in keys if key in active}
    return EnsembleBasis(
        member_ids={key: active[key].id if key in active else None for key in keys},
        calibrations=calibrations,
        engine_basis=engine.ensemble_basis(calibrations),
    )


def ensemble_revision(engine: DetectionEngine) -> str:
    """The ensemble's "revision": its members' weights, key@revision each (the column holds 255 characters)."""
    text = ", ".join(f"{spec.key}@{spec.revision or spec.model_id}" for spec in engine.ensemble_members())
    return text[:255]


def fit(
    *,
    session: Session,
    admin_id: int,
    model_key: str,
    model_revision: str | None,
    probabilities: Sequence[float],
    labels: Sequence[int],
    source: str,
    basis: EnsembleBasis | None = None,
) -> CalibrationRecord:
    """Fit and store a new (inactive) calibration of model_key; InvalidInput, with nothing stored, when refused.

    The ensemble's (model_key "ensemble") needs the basis its combined probabilities were computed under.
    """
    require_admin(session=session, user_id=admin_id)
    if source not in SOURCES:
        raise ValueError(f"unknown calibration source {source!r}")
    if (model_key == ENSEMBLE_KEY) != (basis is not None):
        raise ValueError("a basis is given with the ensemble's calibration, and only then")
    try:
        calibration = fit_calibration(probabilities, labels)
    except CalibrationError as exc:
        session.rollback()
        raise InvalidInput(str(exc), code="calibration_refused") from None
    if basis is not None:
        calibration = replace(calibration, basis=basis.engine_basis)
    record = CalibrationRecord(
        model_key=model_key,
        model_revision=model_revision,
        method=calibration.method,
        source=source,
        n_real=calibration.n_real,
        n_fake=calibration.n_fake,
        brier_before=calibration.brier_before,
        brier_after=calibration.brier_after,
        ece_before=calibration.ece_before,
        ece_after=calibration.ece_after,
        parameters=calibration.to_dict(),
        basis=None if basis is None else basis.stored(),
        # In-sample reliability points for the chart; the before/after metrics above are cross-validated.
        reliability={
            "before": reliability_bins(probabilities, labels),
            "after": reliability_bins(calibration.apply(probabilities), labels),
        },
        created_by=admin_id,
    )
    session.add(record)
    session.commit()
    return record


def feedback_examples(*, session: Session, model_key: str) -> tuple[list[float], list[int]]:
    """(raw fake probabilities, labels 1 = fake) of the images users marked correct or wrong, as model_key scored them.

    The truth is the verdict when marked correct and its opposite when marked wrong. The score is the model's
    raw one (a calibrated answer keeps it among its members), so a refit never calibrates a calibration; an
    ensemble image gives an example to each of its members. Only images: a video's score is a mean over
    frames and a camera verdict is smoothed, neither is one model output.
    """
    rows: Sequence[Any] = session.execute(
        select(Image.model_key, Image.fake_probability, Image.trust, Image.is_fake, DetectionHistory.feedback_correct)
        .join(DetectionHistory, DetectionHistory.image_id == Image.id)
        .where(
            Image.model_key.in_([model_key, ENSEMBLE_KEY]),
            DetectionHistory.feedback_correct.is_not(None),
            Image.is_fake.is_not(None),
        )
        .order_by(Image.id)
    ).all()
    session.rollback()
    probabilities: list[float] = []
    labels: list[int] = []
    for key, probability, trust, is_fake, correct in rows:
        raw = _raw_probability(model_key, stored_key=key, stored=probability, trust=trust)
        if raw is not None:
            probabilities.append(raw)
            labels.append(int(bool(is_fake) == bool(correct)))
    return probabilities, labels


def _raw_probability(model_key: str, *, stored_key: str | None, stored: float | None, trust: Any) -> float | None:
    """model_key's raw fake probability for a stored image: its member entry, else (older rows) the stored score."""
    for member in (trust or {}).get("members") or []:
        if member.get("key") == model_key and member.get("raw_probability") is not None:
            return float(member["raw_probability"])
    # Rows from before the members were stored were never calibrated: their score is the raw one.
    return float(stored) if stored_key == model_key and stored is not None and not trust else None


def ensemble_feedback_examples(
    *, session: Session, engine: DetectionEngine, calibrations: Mapping[str, Calibration]
) -> tuple[list[float], list[int]]:
    """(combined probabilities, labels 1 = fake) of the ensemble's image verdicts users marked correct or wrong.

    Each combined probability is computed again from the raw member scores the image keeps, with the
    members' calibrations given (those in force now), not the one the user saw; images judged by other
    members than the ensemble's current ones are left out. Labels as in feedback_examples.
    """
    rows: Sequence[Any] = session.execute(
        select(Image.trust, Image.is_fake, DetectionHistory.feedback_correct)
        .join(DetectionHistory, DetectionHistory.image_id == Image.id)
        .where(
            Image.model_key == ENSEMBLE_KEY,
            DetectionHistory.feedback_correct.is_not(None),
            Image.is_fake.is_not(None),
        )
        .order_by(Image.id)
    ).all()
    session.rollback()
    members = {spec.key for spec in engine.ensemble_members()}
    probabilities: list[float] = []
    labels: list[int] = []
    for trust, is_fake, correct in rows:
        raw = {
            member.get("key"): member.get("raw_probability")
            for member in (trust or {}).get("members") or []
            if member.get("raw_probability") is not None
        }
        if members and set(raw) == members:
            probabilities.append(engine.combined_probability(raw, calibrations))
            labels.append(int(bool(is_fake) == bool(correct)))
    return probabilities, labels


def fit_from_feedback(*, session: Session, engine: DetectionEngine, admin_id: int, model_key: str) -> CalibrationRecord:
    """Fit model_key's calibration on the deployment's feedback; for the ensemble, its combination's.

    A model's examples are its raw scores (feedback_examples); the ensemble's, the combined probabilities
    under the member calibrations in force (ensemble_feedback_examples).
    """
    require_admin(session=session, user_id=admin_id)
    basis = ensemble_basis(session=session, engine=engine) if model_key == ENSEMBLE_KEY else None
    if basis is not None:
        probabilities, labels = ensemble_feedback_examples(
            session=session, engine=engine, calibrations=basis.calibrations
        )
        revision = ensemble_revision(engine)
    else:
        spec = engine.model(model_key)
        revision = spec.revision or spec.model_id
        probabilities, labels = feedback_examples(session=session, model_key=spec.key)
    return fit(
        session=session,
        admin_id=admin_id,
        model_key=model_key,
        model_revision=revision,
        probabilities=probabilities,
        labels=labels,
        source="feedback",
        basis=basis,
    )


def fit_from_upload(
    *,
    session: Session,
    engine: DetectionEngine,
    admin_id: int,
    model_key: str,
    files: Sequence[LabelledFile],
    max_file_size: int,
) -> UploadFit:
    """Score each uploaded example with model_key as detect_image judges it, then fit; unreadable files are skipped.

    A model's score is its raw probability; the ensemble's is its combined probability under the members'
    calibrations in force (never its own: that is what is fitted). Files are read one at a time (werkzeug
    spools large parts to disk), so memory holds one image, not the upload; a file over max_file_size
    refuses the whole upload (TooLarge).
    """
    require_admin(session=session, user_id=admin_id)
    ensemble = model_key == ENSEMBLE_KEY
    basis = ensemble_basis(session=session, engine=engine) if ensemble else None
    session.rollback()  # no transaction held while the model runs
    if basis is not None:
        key, revision, calibrations = ENSEMBLE_KEY, ensemble_revision(engine), basis.calibrations
    else:
        spec = engine.model(model_key)
        key, revision, calibrations = spec.key, spec.revision or spec.model_id, {}
    probabilities: list[float] = []
    labels: list[int] = []
    skipped: list[tuple[LabelledFile, str]] = []
    for item in files:
        data = item.stream.read(max_file_size + 1)
        if len(data) > max_file_size:
            raise TooLarge(f"Image too large: {item.filename or 'a file'} is over {size_text(max_file_size)}")
        try:
            verdict = engine.detect_image(data, model_key=key, calibrations=calibrations)
        except InvalidMediaError as exc:
            skipped.append((item, exc.message))
            continue
        except Exception as exc:
            # A missing or broken model is the deployment's problem, not the file's: refuse the whole fit.
            error = domain_error_from_engine(exc)
            if error is None:
                raise
            raise error from None
        probabilities.append(verdict.fake_probability)
        labels.append(item.label)
    record = fit(
        session=session,
        admin_id=admin_id,
        model_key=key,
        model_revision=revision,
        probabilities=probabilities,
        labels=labels,
        source="labelled_upload",
        basis=basis,
    )
    return UploadFit(record=record, scored=len(labels), skipped=skipped)


def get_calibration(*, session: Session, admin_id: int, calibration_id: int) -> CalibrationRecord:
    """One stored calibration (administrators only); NotFound when there is none of that id."""
    require_admin(session=session, user_id=admin_id)
    record = session.get(CalibrationRecord, calibration_id)
    if record is None:
        session.rollback()
        raise NotFound("Calibration not found", code="calibration_not_found")
    return record


def creators(*, session: Session, records: Sequence[CalibrationRecord]) -> dict[int, str]:
    """Username of each account that fitted one of the records (accounts since deleted are absent)."""
    ids = {record.created_by for record in records if record.created_by is not None}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()
    return {user_id: username for user_id, username in rows}


def list_calibrations(*, session: Session, model_key: str | None = None) -> list[CalibrationRecord]:
    """Every stored calibration (of one model when given), newest first."""
    query = select(CalibrationRecord).order_by(CalibrationRecord.id.desc())
    if model_key is not None:
        query = query.where(CalibrationRecord.model_key == model_key)
    return list(session.scalars(query))


def activate(
    *, session: Session, admin_id: int, calibration_id: int, engine: DetectionEngine | None = None
) -> CalibrationRecord | None:
    """Make this calibration its model's active one (the previous one is switched off); None if none.

    With the engine, a calibration of the ensemble's combination fitted over other members or member
    calibrations than those in force is refused (Conflict): it would not be applied.
    """
    require_admin(session=session, user_id=admin_id)
    current = None
    model_key = session.scalar(select(CalibrationRecord.model_key).where(CalibrationRecord.id == calibration_id))
    if model_key == ENSEMBLE_KEY and engine is not None:
        # Read before the row is locked: reading the active calibrations ends the transaction it runs in.
        current = ensemble_basis(session=session, engine=engine).engine_basis
    record = session.get(CalibrationRecord, calibration_id, with_for_update=True)
    if record is None:
        session.rollback()
        return None
    if current is not None and (record.parameters or {}).get("basis") != current:
        stale = Conflict(
            f"Calibration {record.id} of the ensemble was fitted over other members or member calibrations "
            "than those in force, so it would not be applied: fit the ensemble's calibration again",
            code="calibration_stale",
        )
        session.rollback()
        raise stale
    # Off first, then on, in one transaction: the partial unique index never sees two active rows.
    session.execute(
        update(CalibrationRecord)
        .where(CalibrationRecord.model_key == record.model_key, CalibrationRecord.id != record.id)
        .values(active=False)
    )
    record.active = True
    record.activated_at = datetime.now(timezone.utc)
    session.commit()
    return record


def deactivate(*, session: Session, admin_id: int, model_key: str) -> CalibrationRecord | None:
    """Switch model_key back to raw scores; the calibration that was active, or None if none was."""
    require_admin(session=session, user_id=admin_id)
    record = session.scalars(
        select(CalibrationRecord).where(CalibrationRecord.model_key == model_key, CalibrationRecord.active)
    ).first()
    if record is not None:
        record.active = False
    session.commit()
    return record
