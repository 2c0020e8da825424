"""Property-based requests generated from /api/openapi.json: no server error, answers match the description."""

from __future__ import annotations

import io

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (content_type_conformance, negative_data_rejection, not_a_server_error,
                                 response_schema_conformance, status_code_conformance)

from deepfake_detection.app.openapi.spec import build_spec
from tests.support import media

from .helpers import PASSWORD, api_config, build_app, dispose_app, register_and_login

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, engine):
    app = build_app(api_config(tmp_path_factory.mktemp("fuzz"), engine))
    yield app
    dispose_app(app)


@pytest.fixture(scope="module")
def fuzz_user(fuzz_app):
    client = fuzz_app.test_client()
    user = register_and_login(client, "fuzzer")
    # Something in the history, so by-id operations can hit a real item (id 1).
    response = client.post("/api/detect/image", headers=user.headers, content_type="multipart/form-data",
                           data={"image": (io.BytesIO(media.image_bytes(media.face_photo())), "a.jpg")})
    assert response.status_code == 200
    return user


# The served document is a pure function of the code, so it is loaded at collection time and
# each case is sent to the module's app (schemathesis' lazy fixture loader breaks on pytest 9).
schema = schemathesis.openapi.from_dict(build_spec())
# Invalid requests too (wrong types, missing fields, out-of-range ids): they must be refused with a 4xx.
schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck), database=None)
def test_api_conforms_to_its_openapi_description(case, fuzz_app, fuzz_user):
    headers = dict(fuzz_user.headers)
    if case.path == "/api/auth/logout":
        # Logging out must not revoke the token every other generated case uses.
        client = fuzz_app.test_client()
        token = client.post("/api/auth/login", json={"username": "fuzzer", "password": PASSWORD}).get_json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
    case.operation.schema.app = fuzz_app
    case.call_and_validate(app=fuzz_app, headers=headers)


def test_the_served_document_is_the_one_fuzzed(fuzz_app):
    assert fuzz_app.test_client().get("/api/openapi.json").get_json() == build_spec()
