"""The ensemble and the trust fields on the API: images, camera frames, the model list (videos: own file)."""

from __future__ import annotations

import io

from sqlalchemy import select

from deepfake_detection.app.detection.models import Image
from deepfake_detection.app.extensions import db
from tests.support import media

TINY = ["dima806", "deep-fake-v2", "open-deepfake"]


def upload(client, user, data: bytes, **form):
    return client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(data), "photo.jpg"), **form},
    )


def test_models_list_the_ensemble_with_its_members(client):
    body = client.get("/api/detect/models").get_json()
    keys = [m["key"] for m in body["models"]]
    assert keys[:3] == TINY and body["default"] == "dima806"
    ensemble = body["models"][-1]
    assert ensemble["key"] == "ensemble" and ensemble["members"] == TINY
    assert ensemble["name"] == "Ensemble (3 models)" and ensemble["available"] is True
    assert ensemble["default"] is False
    assert "members" not in body["models"][0]  # a single model has none


def test_image_with_the_ensemble_answers_the_trust_fields_and_stores_them(app, client, user):
    response = upload(client, user, media.image_bytes(media.face_photo(True)), model="ensemble")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["model_key"] == "ensemble" and body["model_used"] == "Ensemble (3 models)"
    assert body["is_fake"] is True and body["verdict"] == "fake"
    assert body["reasons"] and body["reasons"][0].startswith("the combined score is")
    assert [m["key"] for m in body["members"]] == TINY
    assert all(m["band"] == "likely fake" and m["calibrated_probability"] is None for m in body["members"])
    assert body["calibration"] is None and body["robustness"] is None
    assert body["faces_summary"] == "the face looks manipulated"
    with app.app_context():
        image = db.session.execute(select(Image)).scalar_one()
        assert image.model_key == "ensemble" and image.trust["verdict"] == "fake"
        assert [m["key"] for m in image.trust["members"]] == TINY
    detail = client.get(f"/api/history/{body['history_id']}", headers=user.headers).get_json()
    assert detail["item"]["detail"]["trust"]["verdict"] == "fake"


def test_single_model_image_answers_keep_their_fields_and_gain_a_verdict(client, user):
    body = upload(client, user, media.image_bytes(media.face_photo(False))).get_json()
    assert body["model_key"] == "dima806" and body["is_fake"] is False and body["verdict"] == "real"
    assert [m["key"] for m in body["members"]] == ["dima806"]


def test_camera_takes_the_ensemble(client, user):
    response = client.post(
        "/api/detect/camera", headers=user.headers, json={"image": media.face_data_url(True), "model": "ensemble"}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["model_key"] == "ensemble" and body["verdict"] == "fake"
    assert [m["key"] for m in body["members"]] == TINY
    assert body["frame"]["verdict"] == "fake" and body["faces_summary"] == "the face looks manipulated"


def test_the_document_offers_the_ensemble_as_a_model_key(client):
    document = client.get("/api/openapi.json").get_json()
    assert "ensemble" in document["components"]["schemas"]["CameraRequest"]["properties"]["model"]["enum"]
