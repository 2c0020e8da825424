"""Housekeeping commands: `flask --app deepfake_detection.app purge-camera-frames` and `sweep-orphan-files`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from . import retention


@click.command("purge-camera-frames")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Delete frames older than this many days (default: CAMERA_FRAME_RETENTION_DAYS).",
)
@with_appcontext
def purge_camera_frames_command(days: int | None) -> None:
    """Delete old camera frames: their files, detections and history items, plus orphaned media files."""
    days = days or current_app.config["CAMERA_FRAME_RETENTION_DAYS"]
    if not days:
        raise click.UsageError("No retention is configured: set CAMERA_FRAME_RETENTION_DAYS or pass --days.")
    cutoff = retention.retention_cutoff(days=days)
    upload_root = current_app.config["UPLOAD_FOLDER"]
    frames = retention.purge_all_camera_frames(session=db.session, upload_root=upload_root, older_than=cutoff)
    orphans = _sweep(current_app.config["ORPHAN_FILE_GRACE_SECONDS"])
    others = orphans["images"] + orphans["videos"]
    click.echo(
        f"Deleted {frames} camera frame(s) older than {days} day(s) (taken before "
        f"{cutoff.isoformat(timespec='seconds')}) with their detections and history items; "
        f"removed {orphans['camera']} orphaned frame file(s) and {others} other orphaned media file(s)."
    )


@click.command("sweep-orphan-files")
@click.option(
    "--grace-seconds",
    type=click.IntRange(min=0),
    default=None,
    help="Only files older than this (default: ORPHAN_FILE_GRACE_SECONDS).",
)
@with_appcontext
def sweep_orphan_files_command(grace_seconds: int | None) -> None:
    """Delete stored images, videos, thumbnails and camera frames that no row refers to (crash leftovers)."""
    if grace_seconds is None:
        grace_seconds = current_app.config["ORPHAN_FILE_GRACE_SECONDS"]
    removed = _sweep(grace_seconds)
    click.echo(
        f"Removed {sum(removed.values())} orphaned file(s) older than {grace_seconds} s: "
        + ", ".join(f"{count} in {folder}/" for folder, count in removed.items())
        + "."
    )


def _sweep(grace_seconds: int) -> dict[str, int]:
    """The full sweep of every media folder, sparing files younger than the grace period."""
    return retention.remove_orphan_files(
        session=db.session,
        upload_root=current_app.config["UPLOAD_FOLDER"],
        older_than=datetime.now(timezone.utc) - timedelta(seconds=grace_seconds),
    )
