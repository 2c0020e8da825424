"""Ids are never handed out twice: a deleted user's token never acts as the next user to sign up."""

from __future__ import annotations

from sqlalchemy import text

from deepfake_detection.app.extensions import db
from tests.support import media

from .helpers import assert_error, register_and_login


def test_a_deleted_users_id_is_not_reused_and_its_token_stays_dead(app, client):
    gone = register_and_login(client, "leaving")
    # There is no delete-account endpoint: an operator removes the row.
    with app.app_context():
        db.session.execute(text('DELETE FROM "user" WHERE id = :id'), {"id": gone.id})
        db.session.commit()

    newcomer = register_and_login(client, "newcomer")

    assert newcomer.id > gone.id
    assert_error(client.get("/api/auth/me", headers=gone.headers), 401)
    assert client.get("/api/auth/me", headers=newcomer.headers).get_json()["user"]["username"] == "newcomer"


def test_detection_ids_are_not_reused_either(app, client, user):
    first = client.post("/api/detect/camera", headers=user.headers, json={"image": media.face_data_url()}).get_json()
    assert client.delete(f"/api/history/{first['history_id']}", headers=user.headers).status_code == 200
    second = client.post("/api/detect/camera", headers=user.headers, json={"image": media.face_data_url()}).get_json()
    assert second["history_id"] > first["history_id"]
    assert second["detection_id"] > first["detection_id"]
