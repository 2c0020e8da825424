"""`flask --app deepfake_detection.app calibrate REAL_DIR FAKE_DIR --model KEY --admin USERNAME [--activate]`.

KEY may be `ensemble`: the calibration of the ensemble's combined probability, fitted over its members'
calibrations in force.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from ...engine import ENSEMBLE_KEY, EngineError, calibration_summary, score_labelled_folders
from ..auth.service import find_user
from ..domain_errors import DomainError
from ..engine_ext import get_engine
from ..extensions import db
from . import service
from .active import stored_calibration


@click.command("calibrate")
@click.argument("real_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("fake_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--model", "model_key", default=None, help="Model key (default: the default model); `ensemble`: its combination."
)
@click.option("--admin", "admin_name", required=True, help="The administrator account this calibration is fitted as.")
@click.option("--activate", is_flag=True, help="Apply it at once (else an administrator switches it on later).")
@with_appcontext
def calibrate_command(real_dir: Path, fake_dir: Path, model_key: str | None, admin_name: str, activate: bool) -> None:
    """Fit and store a calibration of one model (or of the ensemble's combination) from labelled folders."""
    admin = find_user(session=db.session, username=admin_name)
    db.session.rollback()
    if admin is None:
        raise click.ClickException(f"No account is named {admin_name!r}.")
    engine = get_engine()
    try:
        if model_key == ENSEMBLE_KEY:
            # The combination's calibration, over the members' calibrations in force now.
            basis: service.EnsembleBasis | None = service.ensemble_basis(session=db.session, engine=engine)
            db.session.rollback()
            key, revision = ENSEMBLE_KEY, service.ensemble_revision(engine)
        else:
            spec = engine.model(model_key)
            basis, key, revision = None, spec.key, spec.revision or spec.model_id
        scores = score_labelled_folders(
            engine,
            real_dir=real_dir,
            fake_dir=fake_dir,
            model_key=key,
            member_calibrations=None if basis is None else basis.calibrations,
        )
        record = service.fit(
            session=db.session,
            admin_id=admin.id,
            model_key=key,
            model_revision=revision,
            probabilities=scores.probabilities,
            labels=scores.labels,
            source="labelled_folder",
            basis=basis,
        )
        if activate:
            service.activate(session=db.session, admin_id=admin.id, calibration_id=record.id, engine=engine)
    except (EngineError, DomainError) as exc:
        raise click.ClickException(exc.message) from None
    for path, why in scores.skipped:
        click.echo(f"skipped {path}: {why}", err=True)
    state = "active" if activate else "stored, not active: switch it on with --activate or on the admin page"
    click.echo(f"Calibration {record.id} of {key} ({state}): {calibration_summary(stored_calibration(record))}")
