"""Calibrations stored per deployment: fitted by administrators (feedback or labelled folders), versioned, switched."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.exc import IntegrityError

from deepfake_detection.app.calibration import service
from deepfake_detection.app.calibration.active import active_calibrations
from deepfake_detection.app.calibration.models import CalibrationRecord
from deepfake_detection.app.domain_errors import Forbidden, InvalidInput
from deepfake_detection.app.engine_ext import get_engine
from deepfake_detection.app.extensions import db
from tests.support import media
from tests.support.labelled import labelled_image, write_labelled_folders

from .helpers import register_and_login

PER_CLASS = 22  # above the engine's minimum of 20 per class


def png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def overconfident_scores(count: int, seed: int = 0) -> tuple[list[float], list[int]]:
    """Scores pushed towards 0 and 1 beyond what their labels support, as raw softmax outputs are."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    logits = 4.0 * (labels * 2 - 1) * rng.uniform(0.2, 1.0, count) + rng.normal(0, 3.0, count)
    return list(1 / (1 + np.exp(-logits))), [int(v) for v in labels]


def detect_labelled(client, user, index: int, fake: bool) -> dict:
    """POST one labelled example image for detection; its answer."""
    response = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(png(labelled_image(fake, index))), f"{index}.png")},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def detect_with_feedback(client, user, per_class: int) -> list[int]:
    """per_class real and fake examples detected and marked correct or wrong by their truth; the truths (1 = fake)."""
    truths = []
    for index in range(2 * per_class):
        fake = index % 2 == 1
        body = detect_labelled(client, user, index, fake)
        feedback = client.post(
            f"/api/history/{body['history_id']}/feedback",
            headers=user.headers,
            json={"correct": body["is_fake"] == fake},
        )
        assert feedback.status_code == 200
        truths.append(int(fake))
    return truths


def grant(app, username: str) -> None:
    assert app.test_cli_runner().invoke(args=["grant-admin", username]).exit_code == 0


def fit(app, admin_id: int, model_key: str = "dima806", seed: int = 0) -> CalibrationRecord:
    probabilities, labels = overconfident_scores(200, seed)
    with app.app_context():
        record = service.fit(
            session=db.session,
            admin_id=admin_id,
            model_key=model_key,
            model_revision="rev-1",
            probabilities=probabilities,
            labels=labels,
            source="labelled_upload",
        )
        return db.session.get(CalibrationRecord, record.id)


def test_a_fit_is_stored_inactive_with_its_metrics_and_only_an_administrator_may_fit(app, client):
    user = register_and_login(client)
    with pytest.raises(Forbidden):
        fit(app, user.id)
    grant(app, user.username)
    record = fit(app, user.id)
    assert record.active is False and record.method == "platt" and record.source == "labelled_upload"
    assert record.n_real + record.n_fake == 200 and record.created_by == user.id
    assert record.brier_after < record.brier_before and record.ece_after < record.ece_before
    assert {"before", "after"} <= set(record.reliability)
    with app.app_context():
        assert active_calibrations(session=db.session) == {}


def test_refused_fits_say_why_and_store_nothing(app, client):
    admin = register_and_login(client)
    grant(app, admin.username)
    with app.app_context():
        with pytest.raises(InvalidInput, match="all 30 examples are fake") as one_class:
            service.fit(
                session=db.session,
                admin_id=admin.id,
                model_key="dima806",
                model_revision=None,
                probabilities=[0.9] * 30,
                labels=[1] * 30,
                source="labelled_upload",
            )
        assert one_class.value.code == "calibration_refused"
        with pytest.raises(InvalidInput, match="too few examples"):
            service.fit(
                session=db.session,
                admin_id=admin.id,
                model_key="dima806",
                model_revision=None,
                probabilities=[0.2, 0.8] * 5,
                labels=[0, 1] * 5,
                source="labelled_upload",
            )
        assert service.list_calibrations(session=db.session) == []


def test_switching_keeps_one_active_per_model_rolls_back_and_survives_a_restart(make_app):
    app = make_app()
    client = app.test_client()
    admin = register_and_login(client)
    grant(app, admin.username)
    first, second = fit(app, admin.id, seed=1), fit(app, admin.id, seed=2)
    other_model = fit(app, admin.id, model_key="deep-fake-v2", seed=3)
    with app.app_context():
        service.activate(session=db.session, admin_id=admin.id, calibration_id=first.id)
        service.activate(session=db.session, admin_id=admin.id, calibration_id=other_model.id)
        service.activate(session=db.session, admin_id=admin.id, calibration_id=second.id)
        active = active_calibrations(session=db.session)
        assert {key: c.id for key, c in active.items()} == {"dima806": second.id, "deep-fake-v2": other_model.id}
        # Roll back: the earlier one again.
        service.activate(session=db.session, admin_id=admin.id, calibration_id=first.id)
        assert active_calibrations(session=db.session)["dima806"].id == first.id
        assert service.activate(session=db.session, admin_id=admin.id, calibration_id=10_000) is None
        outputs = active_calibrations(session=db.session)["dima806"].calibration.apply([0.01, 0.5, 0.99])
    # A new process on the same database applies the same calibration.
    restarted = make_app(SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    with restarted.app_context():
        again = active_calibrations(session=db.session)["dima806"]
        assert again.id == first.id
        assert np.allclose(again.calibration.apply([0.01, 0.5, 0.99]), outputs)
        switched_off = service.deactivate(session=db.session, admin_id=admin.id, model_key="dima806")
        assert switched_off is not None and switched_off.id == first.id
        assert set(active_calibrations(session=db.session)) == {"deep-fake-v2"}


def test_the_database_itself_refuses_two_active_calibrations_of_one_model(app, client):
    admin = register_and_login(client)
    grant(app, admin.username)
    first, second = fit(app, admin.id, seed=1), fit(app, admin.id, seed=2)
    with app.app_context():
        db.session.get(CalibrationRecord, first.id).active = True
        db.session.get(CalibrationRecord, second.id).active = True
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_fitting_from_feedback_labels_each_image_by_its_verdict_and_the_users_mark(app, client):
    admin = register_and_login(client)
    grant(app, admin.username)
    truths = detect_with_feedback(client, admin, PER_CLASS)
    with app.app_context():
        _, labels = service.feedback_examples(session=db.session, model_key="dima806")
        assert labels == truths
        assert service.feedback_examples(session=db.session, model_key="deep-fake-v2") == ([], [])
        record = service.fit_from_feedback(
            session=db.session, engine=get_engine(), admin_id=admin.id, model_key="dima806"
        )
        assert (record.n_real, record.n_fake, record.source) == (PER_CLASS, PER_CLASS, "feedback")


def test_the_calibrate_command_fits_from_labelled_folders_as_an_administrator(app, client, tmp_path):
    admin = register_and_login(client)
    write_labelled_folders(tmp_path, PER_CLASS)
    (tmp_path / "fake" / "broken.png").write_bytes(b"not an image")
    args = ["calibrate", str(tmp_path / "real"), str(tmp_path / "fake"), "--admin", admin.username, "--activate"]
    refused = app.test_cli_runner().invoke(args=args)
    assert refused.exit_code != 0 and "Only an administrator" in refused.output
    grant(app, admin.username)
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "of dima806 (active)" in result.output and "Brier score" in result.output
    assert "broken.png" in result.output  # skipped, and said so
    with app.app_context():
        active = active_calibrations(session=db.session)["dima806"]
        assert (active.n_real, active.n_fake) == (PER_CLASS, PER_CLASS)
    unknown = app.test_cli_runner().invoke(args=[*args[:3], "--admin", "nobody"])
    assert unknown.exit_code != 0 and "No account is named 'nobody'" in unknown.output


def test_the_active_calibration_is_applied_to_answers_and_named_and_refits_use_raw_scores(app, client):
    admin = register_and_login(client)
    grant(app, admin.username)

    raw_answer = detect_labelled(client, admin, 0, True)
    assert raw_answer["calibration"] is None  # no calibration: the scores are the model's raw outputs
    record = fit(app, admin.id, seed=4)
    with app.app_context():
        service.activate(session=db.session, admin_id=admin.id, calibration_id=record.id)
        expected = active_calibrations(session=db.session)["dima806"].calibration
    answer = detect_labelled(client, admin, 0, True)
    [member] = answer["members"]
    assert member["raw_probability"] == pytest.approx(raw_answer["fake_probability"], abs=1e-6)
    assert member["calibrated_probability"] == pytest.approx(expected.apply(member["raw_probability"]), abs=1e-5)
    assert answer["fake_probability"] == pytest.approx(member["calibrated_probability"], abs=1e-5)
    assert answer["calibration"]["members"]["dima806"] == {
        "method": record.method,
        "n_real": record.n_real,
        "n_fake": record.n_fake,
        "id": record.id,
    }
    camera = client.post(
        "/api/detect/camera", headers=admin.headers, json={"image": media.face_data_url(False), "model": "dima806"}
    ).get_json()
    assert camera["calibration"]["members"]["dima806"]["id"] == record.id
    # Feedback on the calibrated answer: a refit takes the raw score it was given, not the calibrated one.
    feedback = client.post(
        f"/api/history/{answer['history_id']}/feedback", headers=admin.headers, json={"correct": True}
    )
    assert feedback.status_code == 200
    with app.app_context():
        probabilities, labels = service.feedback_examples(session=db.session, model_key="dima806")
    assert probabilities == [pytest.approx(member["raw_probability"])] and labels == [int(answer["is_fake"])]
