"""The administrator role: granted only by an operator through the CLI, never by sign-up."""

from __future__ import annotations

import pytest

from deepfake_detection.app.auth import service
from deepfake_detection.app.auth.models import User
from deepfake_detection.app.domain_errors import Forbidden
from deepfake_detection.app.extensions import db

from .helpers import register_and_login


def _is_admin(app, user_id: int) -> bool:
    with app.app_context():
        return db.session.get(User, user_id).is_admin


def test_no_account_is_an_administrator_by_signing_up_not_even_the_first(app, client):
    first = register_and_login(client)
    second = register_and_login(client)
    assert not _is_admin(app, first.id) and not _is_admin(app, second.id)


def test_an_operator_grants_and_revokes_the_role_by_username_in_any_case(app, client):
    user = register_and_login(client, "Editor_1")
    runner = app.test_cli_runner()
    granted = runner.invoke(args=["grant-admin", "editor_1"])
    assert granted.exit_code == 0, granted.output
    assert "Editor_1 is now an administrator" in granted.output
    assert _is_admin(app, user.id)
    revoked = runner.invoke(args=["revoke-admin", "EDITOR_1"])
    assert revoked.exit_code == 0 and "no longer an administrator" in revoked.output
    assert not _is_admin(app, user.id)


def test_granting_an_unknown_account_fails_and_changes_nothing(app, client):
    user = register_and_login(client)
    result = app.test_cli_runner().invoke(args=["grant-admin", "nobody"])
    assert result.exit_code != 0
    assert "No account is named 'nobody'; nothing changed." in result.output
    assert not _is_admin(app, user.id)


def test_only_administrators_pass_the_admin_check(app, client):
    user = register_and_login(client)
    with app.app_context():
        with pytest.raises(Forbidden, match="Only an administrator"):
            service.require_admin(session=db.session, user_id=user.id)
        with pytest.raises(Forbidden):
            service.require_admin(session=db.session, user_id=user.id + 1000)
    assert app.test_cli_runner().invoke(args=["grant-admin", user.username]).exit_code == 0
    with app.app_context():
        assert service.require_admin(session=db.session, user_id=user.id).id == user.id
