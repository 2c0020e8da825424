"""What an operator meets first: settings in .env, a database or role not created yet, files in the working folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deepfake_detection.app import create_app
from deepfake_detection.app.config import ConfigurationError
from deepfake_detection.app.extensions import db
from tests.production import services

# Settings the test process may carry; the children below must get theirs from .env alone.
SETTINGS = (
    "DEEPFAKE_MODE",
    "SECRET_KEY",
    "JWT_SECRET_KEY",
    "DATABASE_URI",
    "UPLOAD_FOLDER",
    "REDIS_URL",
    "DEEPFAKE_INSTANCE_PATH",
    "JOBS_BACKEND",
)
SHOW_CONFIG = (
    "import json\n"
    "from deepfake_detection.app import create_app\n"
    "app = create_app()\n"
    "print(json.dumps({name: app.config[name] for name in ('MODE', 'JOBS_BACKEND', 'REVOKED_TOKEN_STORE',"
    " 'UPLOAD_FOLDER', 'SQLALCHEMY_DATABASE_URI')}))\n"
)


def _bare_environment(**extra: str) -> dict:
    """The test process's environment without any deployment setting."""
    env = {name: value for name, value in os.environ.items() if name not in SETTINGS}
    env.update(extra)
    return env


def _run(args: list[str], *, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def _write_env(folder: Path, settings: dict) -> None:
    (folder / ".env").write_text("".join(f"{name}={value}\n" for name, value in settings.items()))


def test_production_settings_in_a_dotenv_file_give_production_mode(fresh_database, tmp_path):
    workdir = tmp_path / "project"
    workdir.mkdir()
    settings = {
        "DEEPFAKE_MODE": "production",
        "SECRET_KEY": "dotenv-secret-" + "s" * 40,
        "JWT_SECRET_KEY": "dotenv-jwt-" + "j" * 40,
        "DATABASE_URI": fresh_database,
        "UPLOAD_FOLDER": str(tmp_path / "shared-uploads"),
    }
    _write_env(workdir, settings)

    shown = _run([sys.executable, "-c", SHOW_CONFIG], cwd=workdir, env=_bare_environment())

    assert shown.returncode == 0, shown.stderr[-3000:]
    config = json.loads(shown.stdout.strip().splitlines()[-1])
    assert config["MODE"] == "production" and config["JOBS_BACKEND"] == "celery"
    assert config["REVOKED_TOKEN_STORE"] == "redis"
    assert config["SQLALCHEMY_DATABASE_URI"] == fresh_database
    assert sorted(path.name for path in workdir.iterdir()) == [".env"]  # and no ./instance

    del settings["JWT_SECRET_KEY"]
    _write_env(workdir, settings)
    refused = _run([sys.executable, "-c", SHOW_CONFIG], cwd=workdir, env=_bare_environment())
    assert refused.returncode != 0
    assert "JWT_SECRET_KEY must be set explicitly in production mode" in refused.stderr


def test_production_mode_writes_nothing_into_the_working_directory(fresh_database, tmp_path, monkeypatch):
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEEPFAKE_MODE", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    monkeypatch.setenv("JWT_SECRET_KEY", "j" * 64)
    monkeypatch.setenv("DATABASE_URI", fresh_database)
    monkeypatch.chdir(workdir)

    with pytest.raises(ConfigurationError, match="UPLOAD_FOLDER must be set in production mode"):
        create_app()
    monkeypatch.setenv("UPLOAD_FOLDER", str(tmp_path / "media"))
    app = create_app()
    try:
        assert app.config["MODE"] == "production"
        assert (tmp_path / "media" / "images").is_dir()
        assert list(workdir.iterdir()) == []
    finally:
        with app.app_context():
            db.engine.dispose()


def _postgres_url(*, role: str, database: str) -> str:
    """A URL of the test PostgreSQL server with another role and database."""
    host = services.POSTGRES_ADMIN_URL.split("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+psycopg://{role}@{host}/{database}"


@pytest.mark.parametrize("what", ["database", "role"])
def test_a_missing_database_or_role_is_one_clear_line(postgres, tmp_path, what):
    url = (
        _postgres_url(role="postgres", database="deepfake_nowhere_db")
        if what == "database"
        else _postgres_url(role="deepfake_nobody", database="deepfake_nowhere_db")
    )
    env = _bare_environment(
        DEEPFAKE_MODE="production",
        SECRET_KEY="s" * 64,
        JWT_SECRET_KEY="j" * 64,
        DATABASE_URI=url,
        UPLOAD_FOLDER=str(tmp_path / "uploads"),
    )
    expected = 'database "deepfake_nowhere_db"' if what == "database" else 'role "deepfake_nobody"'
    commands = {
        "flask db upgrade": [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "deepfake_detection.app:create_app",
            "db",
            "upgrade",
        ],
        "deepfake-server": [sys.executable, "-m", "deepfake_detection.app.serve"],
        "celery worker": [sys.executable, "-m", "celery", "-A", services.WORKER_MODULE, "worker", "--pool=solo"],
        "gunicorn": [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "deepfake_detection.app:create_app()"],
    }
    # The four start at once: each spends its time importing the app, and none depends on another.
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        results = dict(zip(commands, pool.map(lambda command: _run(command, cwd=tmp_path, env=env), commands.values())))
    for name, result in results.items():
        output = (result.stdout + result.stderr).strip()
        assert result.returncode != 0, (name, output)
        assert "Traceback" not in output, (name, output)
        # gunicorn logs its own start and stop around it; everything else prints the one line alone.
        lines = [line for line in output.splitlines() if name != "gunicorn" or not line.startswith("[")]
        assert len(lines) == 1, (name, output)
        assert expected in lines[0] and "does not exist" in lines[0], (name, output)
        assert ("createdb" in lines[0]) if what == "database" else ("CREATE ROLE" in lines[0]), (name, output)
