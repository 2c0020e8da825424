"""Production-mode job settings for Celery: task names, the job limits and the Celery configuration.

Plain functions of a Flask config mapping, so the tasks, the backend and the worker share them without
importing the Celery app factory (which imports the tasks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ...settings import ApiEnv, JobsEnv

VIDEO_QUEUE = "deepfake-videos"  # the queue's name after the deployment's key prefix
BEAT_SCHEDULE_FILE = "celerybeat-schedule"  # beat's schedule database, in the instance folder
TASK_DETECT_VIDEO = "deepfake.detect_video"
TASK_REAP_STALE_JOBS = "deepfake.reap_stale_jobs"


@dataclass(frozen=True)
class JobLimits:
    """How long a job may run, how often it proves it is alive, and how often it is retried."""

    time_limit: int  # the pool process running the job is killed; the job ends `failed` with a message
    heartbeat_seconds: int  # a running job touches its row this often
    lease_seconds: int  # a `processing` row untouched this long belongs to a dead worker
    max_attempts: int  # runs of one job (worker lost counts as an attempt) before it ends `failed`
    reaper_interval: int  # seconds between sweeps for jobs whose worker died
    visibility_timeout: int  # broker redelivers an unacknowledged message after this long
    queued_resend_seconds: int  # a `queued` row untouched this long whose message is not waiting is sent again
    worker_start_timeout: int  # a new pool process must have loaded the model within this long


def _setting(config, name: str, default):
    """A setting from the Flask config (create_app validated it), else the default (typed like it)."""
    value = config.get(name)
    if value is None or value == "":
        return default
    return type(default)(value)


def _declared_default(name: str):
    """The default declared for a job variable (deepfake_detection.settings.JobsEnv)."""
    return JobsEnv.model_fields[name].default


def job_limits(config) -> JobLimits:
    """Read the job limits (JOB_* settings) from a Flask config mapping."""
    time_limit = _setting(config, "JOB_TIME_LIMIT", _declared_default("JOB_TIME_LIMIT"))
    heartbeat = _setting(config, "JOB_HEARTBEAT_SECONDS", int(_declared_default("JOB_HEARTBEAT_SECONDS")))
    return JobLimits(
        time_limit=time_limit,
        heartbeat_seconds=heartbeat,
        lease_seconds=_setting(config, "JOB_LEASE_SECONDS", heartbeat * 6),
        max_attempts=_setting(config, "JOB_MAX_ATTEMPTS", _declared_default("JOB_MAX_ATTEMPTS")),
        reaper_interval=_setting(config, "JOB_REAPER_INTERVAL", _declared_default("JOB_REAPER_INTERVAL")),
        # Longer than any job may run, so a slow job is never handed to a second worker.
        visibility_timeout=_setting(config, "JOB_VISIBILITY_TIMEOUT", time_limit + 300),
        # Two leases: a message that is merely in flight is long taken by then (see reap_lost_queued_jobs).
        queued_resend_seconds=_setting(
            config, "JOB_QUEUED_RESEND_SECONDS", 2 * _setting(config, "JOB_LEASE_SECONDS", heartbeat * 6)
        ),
        worker_start_timeout=_setting(
            config, "JOB_WORKER_START_TIMEOUT", _declared_default("JOB_WORKER_START_TIMEOUT")
        ),
    )


def deployment_key_prefix(config) -> str:
    """The deployment's Redis key prefix: CELERY_KEY_PREFIX, else an explicitly set REDIS_KEY_PREFIX."""
    return _setting(config, "CELERY_KEY_PREFIX", "") or _setting(config, "REDIS_KEY_PREFIX", "")


def video_queue(config) -> str:
    """The queue of the video tasks: CELERY_QUEUE, else named after the deployment's key prefix.

    Two deployments sharing one Redis then never take each other's tasks, even when only
    REDIS_KEY_PREFIX tells them apart (CELERY_KEY_PREFIX also prefixes every Celery key).
    """
    return _setting(config, "CELERY_QUEUE", "") or f"{deployment_key_prefix(config)}{VIDEO_QUEUE}"


def celery_settings(config, *, instance_path: str | None = None) -> dict:
    """Celery configuration derived from the Flask config (REDIS_URL and the JOB_* limits).

    ``instance_path``: the folder beat keeps its schedule in (else Celery's default, the current folder).
    """
    redis_url = config.get("REDIS_URL") or ApiEnv.model_fields["REDIS_URL"].default
    limits = job_limits(config)
    transport = {
        "visibility_timeout": limits.visibility_timeout,
        # Sweep for messages of dead workers every few seconds rather than every ~100 s.
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
    prefix = _setting(config, "CELERY_KEY_PREFIX", "")
    if prefix:
        # Lets several deployments (or test runs) share one Redis database.
        transport["global_keyprefix"] = prefix
    return {
        "broker_url": _setting(config, "CELERY_BROKER_URL", redis_url),
        "result_backend": _setting(config, "CELERY_RESULT_BACKEND", redis_url),
        "broker_transport_options": transport,
        "result_backend_transport_options": {"global_keyprefix": prefix} if prefix else {},
        "broker_connection_retry_on_startup": True,
        # Workers consume this queue unless told otherwise, so `celery worker` needs no --queues.
        "task_default_queue": video_queue(config),
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_expires": 24 * 3600,
        # A job is acknowledged only when it finished: a killed worker's job goes back to the queue.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # One job at a time per process: a long video must not hold others hostage in a prefetch buffer.
        "worker_prefetch_multiplier": 1,
        # A hard limit only: the killed job's row is failed by Task.on_failure in the worker's main
        # process, in one update. (A soft limit would surface inside the runner as a generic error.)
        "task_time_limit": limits.time_limit,
        "task_track_started": True,
        # Celery kills a replacement pool process that has not reported for duty after 4 s; loading a
        # real-size model takes 20-45 s, so every replacement would be killed in turn (a crash loop).
        "worker_proc_alive_timeout": float(limits.worker_start_timeout),
        "worker_send_task_events": False,
        "beat_schedule": {
            "reap-stale-jobs": {
                "task": TASK_REAP_STALE_JOBS,
                "schedule": float(limits.reaper_interval),
                # Sweeps that waited behind busy workers are dropped: the next one does the same work.
                "options": {"expires": float(limits.reaper_interval)},
            },
        },
        "include": ["deepfake_detection.app.jobs.celery_tasks"],
        **({"beat_schedule_filename": os.path.join(instance_path, BEAT_SCHEDULE_FILE)} if instance_path else {}),
    }
