"""Operator commands: `flask --app deepfake_detection.app grant-admin USERNAME` and `revoke-admin USERNAME`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..extensions import db
from . import service


def _set_admin(username: str, admin: bool) -> None:
    user = service.set_admin(session=db.session, username=username, admin=admin)
    if user is None:
        raise click.ClickException(f"No account is named {username!r}; nothing changed.")
    state = "is now an administrator" if admin else "is no longer an administrator"
    click.echo(f"{user.username} {state}.")


@click.command("grant-admin")
@click.argument("username")
@with_appcontext
def grant_admin_command(username: str) -> None:
    """Make an existing account an administrator (it may then fit and switch calibrations)."""
    _set_admin(username, True)


@click.command("revoke-admin")
@click.argument("username")
@with_appcontext
def revoke_admin_command(username: str) -> None:
    """Take the administrator role back from an account."""
    _set_admin(username, False)
