"""Calibration feature wiring: its operator command and the administrators' /api/admin/calibrations."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, request
from flask_jwt_extended import jwt_required

from ...engine import ENSEMBLE_KEY, DetectionEngine
from ..auth.service import require_admin
from ..detection.service import resolve_model_key
from ..domain_errors import NotFound, TooLarge
from ..engine_ext import get_engine
from ..extensions import db
from ..request_parsing import current_user_id
from ..schemas_common import parse_body, parse_query, respond
from ..serialization import size_text
from . import cli, service
from .models import CalibrationRecord
from .schemas import (
    CalibrationEntry,
    CalibrationItem,
    CalibrationList,
    CalibrationQuery,
    CalibrationUploaded,
    Deactivated,
    ModelRequest,
    SkippedFile,
)

bp = Blueprint("calibration_admin", __name__, url_prefix="/api/admin/calibrations")
UPLOAD_ENDPOINT = "calibration_admin.fit_from_upload"
# Form parts besides the files (model, and room for a client's extra fields).
EXTRA_FORM_PARTS = 16


def upload_limits(cfg) -> dict[str, tuple[int, str]]:
    """Body limit (bytes, multipart overhead included) and 413 message of the labelled upload."""
    limit = cfg["CALIBRATION_MAX_UPLOAD_SIZE"]
    message = f"Calibration upload too large: the limit is {size_text(limit)} in all"
    return {UPLOAD_ENDPOINT: (limit + cfg["UPLOAD_OVERHEAD"], message)}


def _calibrated_model(engine: DetectionEngine, requested: str | None) -> str:
    """The model key a calibration is for (absent: the default; `ensemble`: its combination); 400 when unknown."""
    return resolve_model_key(engine=engine, requested=requested)


@bp.before_request
def _limit_body_size():
    """The labelled upload's own body and part limits, so an oversized one is refused while it streams in."""
    limits = upload_limits(current_app.config)
    if request.endpoint in limits:
        request.max_content_length, g.upload_limit_message = limits[request.endpoint]
        request.max_form_parts = current_app.config["CALIBRATION_MAX_FILES"] + EXTRA_FORM_PARTS


def _admin_id() -> int:
    """The caller's id once the caller is known to be an administrator (403 otherwise)."""
    user_id = current_user_id()
    require_admin(session=db.session, user_id=user_id)
    db.session.rollback()
    return user_id


def _entry(record: CalibrationRecord, status: int = 200):
    creators = service.creators(session=db.session, records=[record])
    item = CalibrationItem.of(record, creators.get(record.created_by or 0), detail=True)
    db.session.rollback()
    return respond(CalibrationEntry(success=True, calibration=item), status)


@bp.get("")
@jwt_required()
def list_calibrations():
    """Every stored calibration (of one model with ?model=), newest first, and each model's active one."""
    _admin_id()
    query = parse_query(CalibrationQuery)
    records = service.list_calibrations(session=db.session, model_key=query.model)
    creators = service.creators(session=db.session, records=records)
    items = [CalibrationItem.of(record, creators.get(record.created_by or 0)) for record in records]
    active: dict[str, int | None] = {spec.key: None for spec in get_engine().models()}
    active[ENSEMBLE_KEY] = None
    for record in service.list_calibrations(session=db.session):
        active.setdefault(record.model_key, None)
        if record.active:
            active[record.model_key] = record.id
    db.session.rollback()
    return respond(CalibrationList(success=True, calibrations=items, count=len(items), active=active))


@bp.get("/<id:calibration_id>")
@jwt_required()
def get_calibration(calibration_id: int):
    """One calibration with its reliability points before and after."""
    record = service.get_calibration(session=db.session, admin_id=_admin_id(), calibration_id=calibration_id)
    return _entry(record)


@bp.post("/feedback")
@jwt_required()
def fit_from_feedback():
    """Fit a model's (or the ensemble's combination's) calibration on feedback on image verdicts: {"model": KEY}."""
    admin_id = _admin_id()
    form = parse_body(ModelRequest)
    engine = get_engine()
    model_key = _calibrated_model(engine, form.model)
    record = service.fit_from_feedback(session=db.session, engine=engine, admin_id=admin_id, model_key=model_key)
    return _entry(record, 201)


@bp.post("/upload")
@jwt_required()
def fit_from_upload():
    """Fit a model's calibration on labelled images: multipart fields `real` and `fake` (repeated), `model`."""
    admin_id = _admin_id()
    cfg = current_app.config
    engine = get_engine()
    model_key = _calibrated_model(engine, request.form.get("model"))
    uploads = [(0, upload) for upload in request.files.getlist("real")]
    uploads += [(1, upload) for upload in request.files.getlist("fake")]
    if len(uploads) > cfg["CALIBRATION_MAX_FILES"]:
        raise TooLarge(f"Too many files: the limit is {cfg['CALIBRATION_MAX_FILES']} images per calibration upload")
    files = [
        service.LabelledFile(filename=upload.filename or "", label=label, stream=upload.stream)
        for label, upload in uploads
    ]
    fitted = service.fit_from_upload(
        session=db.session,
        engine=engine,
        admin_id=admin_id,
        model_key=model_key,
        files=files,
        max_file_size=cfg["MAX_IMAGE_SIZE"],
    )
    creators = service.creators(session=db.session, records=[fitted.record])
    item = CalibrationItem.of(fitted.record, creators.get(admin_id), detail=True)
    db.session.rollback()
    skipped = [
        SkippedFile(filename=file.filename, label="fake" if file.label else "real", reason=reason)
        for file, reason in fitted.skipped
    ]
    answer = CalibrationUploaded(
        success=True, calibration=item, scored=fitted.scored, skipped=len(skipped), skipped_files=skipped
    )
    return respond(answer, 201)


@bp.post("/<id:calibration_id>/activate")
@jwt_required()
def activate(calibration_id: int):
    """Apply this calibration to its model from now on (its previous one is switched off)."""
    admin_id = _admin_id()
    record = service.activate(session=db.session, admin_id=admin_id, calibration_id=calibration_id, engine=get_engine())
    if record is None:
        raise NotFound("Calibration not found", code="calibration_not_found")
    return _entry(record)


@bp.post("/deactivate")
@jwt_required()
def deactivate():
    """Switch a model back to raw scores: {"model": KEY}."""
    admin_id = _admin_id()
    form = parse_body(ModelRequest)
    engine = get_engine()
    model_key = resolve_model_key(engine=engine, requested=form.model)
    record = service.deactivate(session=db.session, admin_id=admin_id, model_key=model_key)
    deactivated = record.id if record is not None else None
    db.session.rollback()
    return respond(Deactivated(success=True, deactivated=deactivated))


def init_app(app: Flask) -> None:
    """Register the `calibrate` command and the administrators' blueprint."""
    app.cli.add_command(cli.calibrate_command)
    app.register_blueprint(bp)
