"""Every environment variable is declared once and validated once: a bad value is one clear message."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepfake_detection.app import create_app
from deepfake_detection.app.config import ConfigurationError
from deepfake_detection.app.jobs.celery_config import celery_settings, job_limits
from deepfake_detection.engine import EngineSettings
from deepfake_detection.settings import GROUPS, InvalidSettings

SRC = Path(__file__).resolve().parents[1] / "src" / "deepfake_detection"
SERVER = Path(sys.executable).with_name("deepfake-server")
SECRETS = {"SECRET_KEY": "s" * 64, "JWT_SECRET_KEY": "j" * 64}
DECLARED = {name for group in GROUPS for name in group.model_fields}
# Read from the environment by the one module that declares the variables, and by the engine's from_env
# (which hands os.environ, as a mapping, to that module and to hub_cache_dir).
ENVIRONMENT_READERS = {SRC / "settings.py", SRC / "engine" / "settings.py"}
# Not ours: huggingface_hub's own fallback, read by hub_cache_dir the way huggingface_hub reads it.
NOT_DECLARED = {"XDG_CACHE_HOME"}


def _refusal(tmp_path, **variables) -> str:
    """create_app's ConfigurationError message with these variables set."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        with pytest.raises(ConfigurationError) as refused:
            create_app({"INSTANCE_PATH": str(tmp_path / "instance"), **SECRETS})
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return str(refused.value)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"MAX_IMAGE_SIZE": "ten"}, "MAX_IMAGE_SIZE must be a whole number, got 'ten'"),
        ({"DEEPFAKE_FACE_MARGIN": "wide"}, "DEEPFAKE_FACE_MARGIN must be a number, got 'wide'"),
        ({"JOB_MAX_ATTEMPTS": "0"}, "JOB_MAX_ATTEMPTS must be 1 or more, got '0'"),
        ({"DEEPFAKE_BATCH_SIZE": "0"}, "DEEPFAKE_BATCH_SIZE must be 1 or more, got '0'"),
        (
            {"DEEPFAKE_ENSEMBLE_BAND": "0.6,0.7"},
            "DEEPFAKE_ENSEMBLE_BAND must be two numbers low,high with 0 <= low <= 0.5 <= high <= 1 (e.g. 0.35,0.65),"
            " got '0.6,0.7'",
        ),
        (
            {"DEEPFAKE_ENSEMBLE_WEIGHTS": "dima806=-1"},
            "DEEPFAKE_ENSEMBLE_WEIGHTS must be comma-separated key=weight items, each weight a number >= 0"
            " (e.g. dima806=2), got 'dima806=-1'",
        ),
        (
            {"DEEPFAKE_MODE": "staging"},
            "DEEPFAKE_MODE must be one of 'embedded', 'production' or 'development', got 'staging'",
        ),
        ({"DEEPFAKE_DEVICE": "tpu"}, "DEEPFAKE_DEVICE must be one of 'auto', 'cpu' or 'cuda', got 'tpu'"),
        (
            {"DEEPFAKE_FACE_DETECTION": "maybe"},
            "DEEPFAKE_FACE_DETECTION must be 1 or 0 (or true/false, yes/no, on/off), got 'maybe'",
        ),
    ],
)
def test_a_bad_value_is_one_message_naming_the_variable_and_what_it_must_be(tmp_path, variables, message):
    assert _refusal(tmp_path, **variables) == message


def test_every_bad_value_is_named_in_one_line(tmp_path):
    message = _refusal(tmp_path, JOB_TIME_LIMIT="soon", REVOKED_TOKEN_STORE="disk")
    assert "\n" not in message
    assert "JOB_TIME_LIMIT must be a whole number, got 'soon'" in message
    assert "REVOKED_TOKEN_STORE must be one of 'database', 'memory' or 'redis', got 'disk'" in message


def test_values_given_to_create_app_are_validated_like_the_environment(tmp_path):
    with pytest.raises(ConfigurationError, match=r"^JOB_HEARTBEAT_SECONDS must be more than 0, got -1$"):
        create_app({"INSTANCE_PATH": str(tmp_path / "instance"), **SECRETS, "JOB_HEARTBEAT_SECONDS": -1})


def test_the_engine_reads_the_same_declarations_from_any_mapping():
    assert EngineSettings.from_env({"DEEPFAKE_BATCH_SIZE": " 4 ", "DEEPFAKE_VIDEO_PREFETCH": "AUTO"}).batch_size == 4
    assert EngineSettings.from_env({"DEEPFAKE_VIDEO_PREFETCH": "off"}).video_prefetch is False
    with pytest.raises(InvalidSettings, match=r"^DEEPFAKE_VIDEO_SAMPLE_FPS must be more than 0, got '0'$"):
        EngineSettings.from_env({"DEEPFAKE_VIDEO_SAMPLE_FPS": "0"})


def test_celery_reads_the_flask_config_only(monkeypatch):
    # Everything the environment says reached the Flask config through create_app, validated.
    monkeypatch.setenv("CELERY_QUEUE", "from-the-environment")
    monkeypatch.setenv("JOB_TIME_LIMIT", "not-a-number")
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379/0")
    settings = celery_settings({})
    assert settings["task_default_queue"] == "deepfake-videos"
    assert settings["broker_url"] == "redis://127.0.0.1:6379/0" and job_limits({}).time_limit == 1800


def test_a_bad_value_stops_the_server_with_one_line(tmp_path):
    env = {**os.environ, "DEEPFAKE_INSTANCE_PATH": str(tmp_path / "instance"), "MAX_VIDEO_SIZE": "big"}
    result = subprocess.run([str(SERVER)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "Configuration error: MAX_VIDEO_SIZE must be a whole number, got 'big'"


def _environment_reads(tree: ast.AST) -> list[int]:
    """Lines reading the environment directly: os.environ, os.getenv, environ imported from os."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "getenvb"):
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in ("environ", "getenv") for alias in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_no_module_reads_the_environment_but_the_settings():
    readers = {}
    for path in SRC.rglob("*.py"):
        if path not in ENVIRONMENT_READERS and (lines := _environment_reads(ast.parse(path.read_text()))):
            readers[str(path.relative_to(SRC))] = lines
    assert readers == {}, "read the variable through deepfake_detection.settings (declare it there)"


def test_every_variable_named_in_the_code_is_declared():
    named = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            # click options reading a variable, and names looked up in an environment mapping
            if isinstance(node, ast.keyword) and node.arg == "envvar" and isinstance(node.value, ast.Constant):
                named.add(node.value.value)
            elif (
                path in ENVIRONMENT_READERS
                and isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "env"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                named.add(node.args[0].value)
    assert named and named - NOT_DECLARED <= DECLARED, sorted(named - NOT_DECLARED - DECLARED)
