"""Calibration feature wiring: its operator command (the administrator endpoints come with the ensemble)."""

from __future__ import annotations

from flask import Flask

from . import cli


def init_app(app: Flask) -> None:
    """Register the `calibrate` command."""
    app.cli.add_command(cli.calibrate_command)
