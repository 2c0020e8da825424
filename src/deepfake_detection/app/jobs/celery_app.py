"""The Celery application of production mode, bound to a Flask app so every task runs in its context."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask

# Importing the tasks registers them as shared tasks; every Celery app made here finds them by name.
from . import celery_tasks  # noqa: F401
from .celery_config import celery_settings

CELERY_KEY = "deepfake_celery"


def create_celery(app: Flask) -> Celery:
    """The Celery app for a Flask app (one per Flask app, kept in ``app.extensions``)."""
    if CELERY_KEY in app.extensions:
        return app.extensions[CELERY_KEY]

    class FlaskTask(Task):
        """Runs the task body inside the Flask app context (database session, config, engine)."""

        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    # Beat's schedule goes to the instance folder, not to wherever the command was started.
    celery.conf.update(celery_settings(app.config, instance_path=app.instance_path))
    celery.flask_app = app  # failure hooks run outside a task body and push its context themselves
    celery.set_default()
    app.extensions[CELERY_KEY] = celery
    return celery
