"""Property-based requests generated from /api/openapi.json: no server error, answers match the description."""

from __future__ import annotations

import io

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from deepfake_detection.app.detection.service import model_keys
from deepfake_detection.app.openapi.spec import build_spec
from deepfake_detection.engine import DetectionEngine, EngineSettings
from tests.support import media

from .helpers import PASSWORD, api_config, build_app, dispose_app, register_and_login


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, engine):
    app = build_app(api_config(tmp_path_factory.mktemp("fuzz"), engine))
    yield app
    dispose_app(app)


@pytest.fixture(scope="module")
def fuzz_user(fuzz_app):
    client = fuzz_app.test_client()
    user = register_and_login(client, "fuzzer")
    # An administrator, so the administrators' operations are fuzzed past their 403.
    assert fuzz_app.test_cli_runner().invoke(args=["grant-admin", "fuzzer"]).exit_code == 0
    # Something in the history, so by-id operations can hit a real item (id 1).
    response = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo())), "a.jpg")},
    )
    assert response.status_code == 200
    return user


# The served document depends only on the code and the engine's model keys (the test engine offers the
# built-in ones), so it is loaded at collection time and each case is sent to the module's app
# (schemathesis' lazy fixture loader breaks on pytest 9).
MODEL_KEYS = tuple(model_keys(engine=DetectionEngine(EngineSettings.from_env())))  # the models, then `ensemble`
schema = schemathesis.openapi.from_dict(build_spec(MODEL_KEYS))
# Invalid requests too (wrong types, missing fields, out-of-range ids): they must be refused with a 4xx.
schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])


def _give_real_media(case) -> list:
    """Put real media into a valid case of an upload operation; returns the checks that cannot apply.

    A JSON Schema cannot say "a decodable image": valid-by-the-document media fields are random bytes,
    which the server rightly refuses. So valid cases get a real image, and every other generated field
    is still held to positive_data_acceptance. A video cannot be generated small enough, so valid video
    cases are not asked to be accepted.
    """
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return []
    if case.path == "/api/detect/image":
        case.body["image"] = PHOTO
    elif case.path == "/api/detect/camera":
        case.body["image"] = media.face_data_url()
    elif case.path == "/api/detect/video":
        return [positive_data_acceptance]
    elif case.path in ("/api/admin/calibrations/feedback", "/api/admin/calibrations/upload"):
        # A fit needs enough labelled examples of both classes (a deployment's feedback, decodable images):
        # a valid request is refused with calibration_refused when there are too few.
        return [positive_data_acceptance]
    elif case.path == "/api/auth/register":
        # The password policy's blocklist (common passwords, a repeated character, the username) and
        # email-validator's syntax rules are not expressible in JSON Schema; what a refusal may name is
        # checked by the test itself.
        return [positive_data_acceptance]
    return []


PHOTO = media.image_bytes(media.face_photo())


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
def test_api_conforms_to_its_openapi_description(case, fuzz_app, fuzz_user):
    # Checks that send requests of their own (ignored_auth, unsupported_method, ...) reach the same app.
    case.operation.schema.app = fuzz_app
    headers = dict(fuzz_user.headers)
    if case.operation.schema.is_security_param_negated(case):
        headers = {}  # the case is about a missing or bad token: do not add a good one
    elif case.path == "/api/auth/logout":
        # Logging out must not revoke the token every other generated case uses.
        client = fuzz_app.test_client()
        token = client.post("/api/auth/login", json={"username": "fuzzer", "password": PASSWORD}).get_json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
    excluded = _give_real_media(case)
    # Every check schemathesis has (the default set), not a chosen few.
    response = case.call_and_validate(app=fuzz_app, headers=headers, excluded_checks=excluded)
    if excluded and case.path == "/api/auth/register" and response.status_code == 400:
        # email-validator's finer rules (e.g. a numeric top-level domain) are not expressible either.
        assert set(response.json()["errors"]) <= {"password", "email"}, response.text
        assert "must be at most" not in response.json()["message"]  # lengths are declared
        assert "characters long" not in response.json()["message"]  # lengths are declared


def test_the_served_document_is_the_one_fuzzed(fuzz_app):
    assert fuzz_app.test_client().get("/api/openapi.json").get_json() == build_spec(MODEL_KEYS)
