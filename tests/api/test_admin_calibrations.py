"""/api/admin/calibrations: administrators fit (feedback or labelled upload), inspect, switch, roll back."""

from __future__ import annotations

import io

import pytest

from deepfake_detection.app.calibration.active import active_calibrations
from deepfake_detection.app.calibration.models import CalibrationRecord
from deepfake_detection.app.extensions import db
from deepfake_detection.app.http_server import body_limits
from tests.support.labelled import labelled_image

from .helpers import PASSWORD, assert_error, register_and_login
from .test_calibrations import PER_CLASS, detect_with_feedback, grant, png

BASE = "/api/admin/calibrations"
ROUTES = [
    ("get", BASE, None),
    ("get", f"{BASE}/1", None),
    ("post", f"{BASE}/feedback", {"model": "dima806"}),
    ("post", f"{BASE}/upload", None),
    ("post", f"{BASE}/1/activate", None),
    ("post", f"{BASE}/deactivate", {"model": "dima806"}),
]


def stored(app) -> int:
    with app.app_context():
        count = db.session.query(CalibrationRecord).count()
        db.session.rollback()
        return count


def upload_form(per_class: int, model: str = "dima806", extra_fake: list[tuple[bytes, str]] | None = None) -> dict:
    real = [(io.BytesIO(png(labelled_image(False, i))), f"real{i}.png") for i in range(per_class)]
    fake = [(io.BytesIO(png(labelled_image(True, i))), f"fake{i}.png") for i in range(per_class)]
    fake += [(io.BytesIO(data), name) for data, name in extra_fake or []]
    return {"model": model, "real": real, "fake": fake}


def post_upload(client, headers, form: dict):
    return client.post(f"{BASE}/upload", headers=headers, content_type="multipart/form-data", data=form)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_route_needs_a_token_and_an_administrator(app, client, method, path, body):
    assert_error(getattr(client, method)(path, json=body), 401)
    user = register_and_login(client)
    refused = assert_error(getattr(client, method)(path, headers=user.headers, json=body), 403)
    assert refused["code"] == "forbidden"
    assert stored(app) == 0


def test_me_and_login_say_whether_the_account_is_an_administrator(app, client):
    user = register_and_login(client)
    assert client.get("/api/auth/me", headers=user.headers).get_json()["user"]["is_admin"] is False
    grant(app, user.username)
    assert client.get("/api/auth/me", headers=user.headers).get_json()["user"]["is_admin"] is True
    login = client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD})
    assert login.get_json()["user"]["is_admin"] is True


def test_feedback_fit_then_list_get_activate_roll_back_and_deactivate(app, client):
    admin = register_and_login(client)
    grant(app, admin.username)
    refused = assert_error(client.post(f"{BASE}/feedback", headers=admin.headers, json={"model": "dima806"}), 400)
    assert refused["code"] == "calibration_refused" and stored(app) == 0
    unknown = assert_error(client.post(f"{BASE}/feedback", headers=admin.headers, json={"model": "nope"}), 400)
    assert unknown["code"] == "unknown_model"
    assert_error(client.post(f"{BASE}/feedback", headers=admin.headers, json={}), 400)  # the model is named
    detect_with_feedback(client, admin, PER_CLASS)
    first = client.post(f"{BASE}/feedback", headers=admin.headers, json={"model": "dima806"})
    assert first.status_code == 201, first.get_json()
    one = first.get_json()["calibration"]
    assert (one["source"], one["n_real"], one["n_fake"], one["active"]) == ("feedback", PER_CLASS, PER_CLASS, False)
    assert one["created_by"] == admin.username and one["activated_at"] is None
    assert one["reliability"]["before"] and one["reliability"]["after"]
    assert set(one["reliability"]["before"][0]) == {"low", "high", "count", "mean_probability", "fake_rate"}
    second = client.post(f"{BASE}/feedback", headers=admin.headers, json={"model": ""}).get_json()[
        "calibration"
    ]  # the default
    assert second["model_key"] == "dima806" and second["id"] > one["id"]

    listing = client.get(BASE, headers=admin.headers).get_json()
    assert [item["id"] for item in listing["calibrations"]] == [second["id"], one["id"]] and listing["count"] == 2
    assert "reliability" not in listing["calibrations"][0]
    assert listing["active"]["dima806"] is None and "deep-fake-v2" in listing["active"]
    assert client.get(f"{BASE}?model=deep-fake-v2", headers=admin.headers).get_json()["calibrations"] == []

    detail = client.get(f"{BASE}/{one['id']}", headers=admin.headers).get_json()["calibration"]
    assert detail["reliability"] == one["reliability"]
    assert_error(client.get(f"{BASE}/999999", headers=admin.headers), 404)

    switched = client.post(f"{BASE}/{second['id']}/activate", headers=admin.headers).get_json()["calibration"]
    assert switched["active"] is True and switched["activated_at"]
    rolled_back = client.post(f"{BASE}/{one['id']}/activate", headers=admin.headers).get_json()["calibration"]
    assert rolled_back["active"] is True
    listing = client.get(BASE, headers=admin.headers).get_json()
    assert listing["active"]["dima806"] == one["id"]
    assert [item["active"] for item in listing["calibrations"]] == [False, True]
    with app.app_context():
        assert active_calibrations(session=db.session)["dima806"].id == one["id"]
    assert_error(client.post(f"{BASE}/999999/activate", headers=admin.headers), 404)

    off = client.post(f"{BASE}/deactivate", headers=admin.headers, json={"model": "dima806"}).get_json()
    assert off == {"success": True, "deactivated": one["id"]}
    again = client.post(f"{BASE}/deactivate", headers=admin.headers, json={"model": "dima806"}).get_json()
    assert again == {"success": True, "deactivated": None}
    with app.app_context():
        assert active_calibrations(session=db.session) == {}


def test_upload_fit_scores_each_image_and_counts_the_unreadable_ones(app, client):
    admin = register_and_login(client)
    grant(app, admin.username)
    response = post_upload(client, admin.headers, upload_form(PER_CLASS, extra_fake=[(b"not an image", "broken.png")]))
    body = response.get_json()
    assert response.status_code == 201, body
    record = body["calibration"]
    assert (record["source"], record["model_key"], record["n_real"], record["n_fake"]) == (
        "labelled_upload",
        "dima806",
        PER_CLASS,
        PER_CLASS,
    )
    assert body["scored"] == 2 * PER_CLASS and body["skipped"] == 1
    assert [(f["filename"], f["label"]) for f in body["skipped_files"]] == [("broken.png", "fake")]
    assert record["active"] is False and record["reliability"]["after"]
    assert stored(app) == 1


def test_refused_uploads_store_nothing(app, client):
    admin = register_and_login(client)
    grant(app, admin.username)
    too_few = assert_error(post_upload(client, admin.headers, upload_form(3)), 400)
    assert too_few["code"] == "calibration_refused" and too_few["message"]
    unknown = assert_error(post_upload(client, admin.headers, upload_form(1, model="nope")), 400)
    assert unknown["code"] == "unknown_model"
    app.config["CALIBRATION_MAX_FILES"] = 3
    assert_error(post_upload(client, admin.headers, upload_form(2)), 413)
    app.config["CALIBRATION_MAX_FILES"] = 2000
    app.config["MAX_IMAGE_SIZE"] = 100
    assert_error(post_upload(client, admin.headers, upload_form(1)), 413)
    assert stored(app) == 0


def test_the_upload_has_its_own_body_limit_in_the_app_and_in_the_server(app, client):
    admin = register_and_login(client)
    grant(app, admin.username)
    server_limit = body_limits(app)
    upload_limit = app.config["CALIBRATION_MAX_UPLOAD_SIZE"] + app.config["UPLOAD_OVERHEAD"]
    assert server_limit("POST", f"{BASE}/upload")[0] == upload_limit
    assert server_limit("POST", f"{BASE}/feedback")[0] == app.config["MAX_CONTENT_LENGTH"] < upload_limit
    app.config["CALIBRATION_MAX_UPLOAD_SIZE"] = 1000
    app.config["UPLOAD_OVERHEAD"] = 0
    refused = assert_error(post_upload(client, admin.headers, upload_form(2)), 413)
    assert "Calibration upload too large" in refused["message"]
    assert stored(app) == 0
