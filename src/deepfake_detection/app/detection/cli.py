"""`flask --app deepfake_detection.app purge-camera-frames`: apply the camera frame retention now."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from . import retention


@click.command("purge-camera-frames")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Delete frames older than this many days (default: CAMERA_FRAME_RETENTION_DAYS).")
@with_appcontext
def purge_camera_frames_command(days: int | None) -> None:
    """Delete old camera frames: their files, detections and history items, plus orphaned frame files."""
    days = days or current_app.config["CAMERA_FRAME_RETENTION_DAYS"]
    if not days:
        raise click.UsageError("No retention is configured: set CAMERA_FRAME_RETENTION_DAYS or pass --days.")
    cutoff = retention.retention_cutoff(days=days)
    upload_root = current_app.config["UPLOAD_FOLDER"]
    frames = retention.purge_all_camera_frames(session=db.session, upload_root=upload_root, older_than=cutoff)
    orphans = retention.remove_orphan_frame_files(session=db.session, upload_root=upload_root, older_than=cutoff)
    click.echo(f"Deleted {frames} camera frame(s) older than {days} day(s) (taken before "
               f"{cutoff.isoformat(timespec='seconds')}) with their detections and history items; "
               f"removed {orphans} orphaned frame file(s).")
