"""GET /api/videos/<id> never pairs `completed` with a missing result, whatever commits between its reads."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.production.api_client import make_video, new_user, production_app, upload_async


def test_a_completion_committed_between_the_status_reads_is_never_half_seen(deployment, tmp_path):
    # No worker runs in this module: the job stays queued until the test completes it itself.
    app = production_app(deployment)
    client = app.test_client()
    headers = new_user(client)
    video_id = upload_async(client, headers, make_video(tmp_path, seconds=1))
    other_connection = sa.create_engine(deployment.database_url)

    def complete_elsewhere() -> None:
        """What a worker's runner commits at the end of a job: the result and `completed` together."""
        with other_connection.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE video SET is_fake = true, confidence_score = 91.5, "
                    "processing_status = 'completed' WHERE id = :id"
                ),
                {"id": video_id},
            )
            conn.execute(
                sa.text("UPDATE job SET status = 'completed', progress = 100 WHERE video_id = :id"), {"id": video_id}
            )

    touched = re.compile(r"\bFROM (video|job)\b", re.IGNORECASE)
    done = []

    def between_reads(conn, cursor, statement, parameters, context, executemany):
        # Right after the request's first read of the video or the job, the worker commits.
        if not done and touched.search(statement):
            done.append(True)
            complete_elsewhere()

    with app.app_context():
        from deepfake_detection.app.extensions import db

        sa.event.listen(db.engine, "after_cursor_execute", between_reads)
        try:
            status = client.get(f"/api/videos/{video_id}", headers=headers).get_json()["video"]
        finally:
            sa.event.remove(db.engine, "after_cursor_execute", between_reads)
    other_connection.dispose()

    assert done, "the request never read the video or the job"
    assert status["status"] != "completed" or status["is_fake"] is True, status
    final = client.get(f"/api/videos/{video_id}", headers=headers).get_json()["video"]
    assert final["status"] == "completed" and final["is_fake"] is True and final["confidence"] == 91.5
