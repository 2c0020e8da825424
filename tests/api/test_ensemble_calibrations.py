"""The ensemble's combination calibrated by administrators: fitted over its members' calibrations, applied on them."""

from __future__ import annotations

import io

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from deepfake_detection.app.calibration import service
from deepfake_detection.app.calibration.active import active_calibrations
from deepfake_detection.app.engine_ext import get_engine
from deepfake_detection.app.extensions import db
from tests.support import media
from tests.support.labelled import labelled_image, write_labelled_folders

from .helpers import assert_error, register_and_login
from .test_admin_calibrations import BASE, post_upload, stored, upload_form
from .test_calibrations import PER_CLASS, fit, grant, png

TINY = ["dima806", "deep-fake-v2", "open-deepfake"]
BEFORE_BASIS = "d2b6f8a4c917"
STALE = "the ensemble's calibration was fitted with other member calibrations and is not applied"


def detect(client, user, index: int = 5, fake: bool = True) -> dict:
    """One labelled example through the ensemble; its answer."""
    response = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(png(labelled_image(fake, index))), f"{index}.png"), "model": "ensemble"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def admin_of(app, client):
    admin = register_and_login(client)
    grant(app, admin.username)
    return admin


def activate(client, admin, calibration_id: int):
    return client.post(f"{BASE}/{calibration_id}/activate", headers=admin.headers)


def test_an_uploaded_fit_of_the_ensemble_is_applied_named_and_dropped_when_a_member_calibration_changes(app, client):
    admin = admin_of(app, client)
    plain = detect(client, admin)
    assert plain["calibration"] is None

    response = post_upload(client, admin.headers, upload_form(PER_CLASS, model="ensemble"))
    assert response.status_code == 201, response.get_json()
    fitted = response.get_json()["calibration"]
    assert (fitted["model_key"], fitted["source"], fitted["n_real"], fitted["n_fake"]) == (
        "ensemble",
        "labelled_upload",
        PER_CLASS,
        PER_CLASS,
    )
    assert fitted["basis"] == {"members": [{"key": key, "calibration_id": None} for key in TINY]}
    assert fitted["model_revision"].startswith("dima806@") and fitted["brier_after"] < fitted["brier_before"]
    assert activate(client, admin, fitted["id"]).status_code == 200
    listing = client.get(BASE, headers=admin.headers).get_json()
    assert listing["active"]["ensemble"] == fitted["id"]

    answer = detect(client, admin)
    with app.app_context():
        combination = active_calibrations(session=db.session)["ensemble"].calibration
    assert answer["fake_probability"] == pytest.approx(combination.apply(plain["fake_probability"]), abs=1e-5)
    assert answer["is_fake"] is (answer["fake_probability"] >= 0.5)
    assert answer["calibration"] == {
        "members": {},
        "ensemble": {"id": fitted["id"], "method": fitted["method"], "n_real": PER_CLASS, "n_fake": PER_CLASS},
    }
    camera = client.post(
        "/api/detect/camera",
        headers=admin.headers,
        json={"image": media.face_data_url(True), "model": "ensemble"},
    ).get_json()
    assert camera["calibration"]["ensemble"]["id"] == fitted["id"]

    # A member's calibration switched on: the combination's no longer applies, and the answer says so.
    member = fit(app, admin.id, seed=3)
    assert activate(client, admin, member.id).status_code == 200
    stale = detect(client, admin)
    assert "ensemble" not in stale["calibration"] and stale["calibration"]["members"]["dima806"]["id"] == member.id
    assert stale["reasons"][-1] == STALE
    # Activating it again is refused while it would not apply.
    refused = assert_error(activate(client, admin, fitted["id"]), 409)
    assert refused["code"] == "calibration_stale"

    # The member switched back off: the basis matches again and the combination's calibration applies.
    client.post(f"{BASE}/deactivate", headers=admin.headers, json={"model": "dima806"})
    again = detect(client, admin)
    assert again["calibration"]["ensemble"]["id"] == fitted["id"] and STALE not in again["reasons"]
    assert again["fake_probability"] == pytest.approx(answer["fake_probability"], abs=1e-6)


def test_a_feedback_fit_recomputes_combined_scores_with_the_member_calibrations_in_force(app, client):
    admin = admin_of(app, client)
    answers, truths = [], []
    for index in range(2 * PER_CLASS):
        fake = index % 2 == 1
        body = detect(client, admin, index, fake)
        marked = client.post(
            f"/api/history/{body['history_id']}/feedback",
            headers=admin.headers,
            json={"correct": body["is_fake"] == fake},
        )
        assert marked.status_code == 200
        answers.append(body)
        truths.append(int(fake))
    member = fit(app, admin.id, seed=4)  # switched on after the answers were given
    assert activate(client, admin, member.id).status_code == 200

    with app.app_context():
        engine = get_engine()
        basis = service.ensemble_basis(session=db.session, engine=engine)
        probabilities, labels = service.ensemble_feedback_examples(
            session=db.session, engine=engine, calibrations=basis.calibrations
        )
    assert labels == truths
    # Not the probabilities users were answered, but those the members' current calibrations give.
    with app.app_context():
        dima806 = active_calibrations(session=db.session)["dima806"].calibration
    first = {m["key"]: m["raw_probability"] for m in answers[0]["members"]}
    assert probabilities[0] == pytest.approx(engine.combined_probability(first, {"dima806": dima806}), abs=1e-9)
    assert probabilities[0] != pytest.approx(answers[0]["fake_probability"], abs=1e-3)

    response = client.post(f"{BASE}/feedback", headers=admin.headers, json={"model": "ensemble"})
    assert response.status_code == 201, response.get_json()
    fitted = response.get_json()["calibration"]
    assert (fitted["model_key"], fitted["source"], fitted["n_real"], fitted["n_fake"]) == (
        "ensemble",
        "feedback",
        PER_CLASS,
        PER_CLASS,
    )
    ids = {entry["key"]: entry["calibration_id"] for entry in fitted["basis"]["members"]}
    assert ids == {"dima806": member.id, "deep-fake-v2": None, "open-deepfake": None}
    assert activate(client, admin, fitted["id"]).status_code == 200
    answer = detect(client, admin)
    assert answer["calibration"]["ensemble"]["id"] == fitted["id"]
    assert answer["calibration"]["members"]["dima806"]["id"] == member.id


def test_refused_fits_of_the_ensemble_say_why_and_store_nothing(app, client):
    admin = admin_of(app, client)
    too_few = assert_error(post_upload(client, admin.headers, upload_form(3, model="ensemble")), 400)
    assert too_few["code"] == "calibration_refused" and "too few examples (3 real, 3 fake)" in too_few["message"]
    real_only = upload_form(PER_CLASS, model="ensemble")
    real_only["fake"] = []
    one_class = assert_error(post_upload(client, admin.headers, real_only), 400)
    assert one_class["code"] == "calibration_refused" and f"all {PER_CLASS} examples are real" in one_class["message"]
    none_yet = assert_error(client.post(f"{BASE}/feedback", headers=admin.headers, json={"model": "ensemble"}), 400)
    assert none_yet["code"] == "calibration_refused"
    # Nothing is active for it, so switching it off switches nothing off.
    off = client.post(f"{BASE}/deactivate", headers=admin.headers, json={"model": "ensemble"})
    assert off.status_code == 200 and off.get_json()["deactivated"] is None
    assert stored(app) == 0


def test_only_an_administrator_fits_the_ensemble(app, client):
    user = register_and_login(client)
    for response in (
        client.post(f"{BASE}/feedback", headers=user.headers, json={"model": "ensemble"}),
        post_upload(client, user.headers, upload_form(PER_CLASS, model="ensemble")),
    ):
        assert assert_error(response, 403)["code"] == "forbidden"
    assert stored(app) == 0


def test_the_calibrate_command_fits_the_ensemble_from_labelled_folders(app, client, tmp_path):
    admin = admin_of(app, client)
    real, fake = write_labelled_folders(tmp_path, PER_CLASS)
    args = ["calibrate", str(real), str(fake), "--model", "ensemble", "--admin", admin.username, "--activate"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "of ensemble (active)" in result.output and "Brier score" in result.output
    with app.app_context():
        active = active_calibrations(session=db.session)["ensemble"]
    assert (active.n_real, active.n_fake) == (PER_CLASS, PER_CLASS)
    assert detect(client, admin)["calibration"]["ensemble"]["id"] == active.id


def test_the_basis_column_migrates_up_and_down_keeping_every_calibration(app, client):
    admin = admin_of(app, client)
    member = fit(app, admin.id, seed=5)
    with app.app_context():
        downgrade(revision=BEFORE_BASIS)
        assert "basis" not in {c["name"] for c in inspect(db.engine).get_columns("calibration")}
        upgrade()
        row = db.session.execute(text("SELECT id, basis FROM calibration")).one()
        db.session.rollback()
    assert tuple(row) == (member.id, None)  # a model's own calibration depends on nothing else
    assert client.get(f"{BASE}/{member.id}", headers=admin.headers).get_json()["calibration"]["basis"] is None
