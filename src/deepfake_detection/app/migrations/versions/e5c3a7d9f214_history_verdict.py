"""the three-way verdict of each history item (fake, uncertain, real), backfilled from what the detections stored

Revision ID: e5c3a7d9f214
Revises: e5c3a9d1f207
Create Date: 2026-11-30 18:20:00.000000

An image's verdict is kept in its `trust` JSON, a camera frame's in its `frame_result` JSON; the history rows
of those get it copied. Everything else (videos, and detections from before the three-way verdict) stays
NULL: they were never judged that way, and the filters fall back to `is_fake` for them.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e5c3a7d9f214'
down_revision = 'e5c3a9d1f207'
branch_labels = None
depends_on = None

KNOWN = "('fake', 'uncertain', 'real')"
# The verdict inside a JSON column, per dialect (JSON functions are not portable). SQLite's json_extract
# raises on text that is not JSON, hence json_valid first; PostgreSQL's json column holds only valid JSON.
EXTRACT = {
    "sqlite": "CASE WHEN json_valid({column}) THEN json_extract({column}, '$.verdict') END",
    "postgresql": "({column} ->> 'verdict')",
}
SOURCES = (("image", "image_id", "trust"), ("camera_detection", "camera_detection_id", "frame_result"))


def upgrade():
    # Plain ALTER TABLE (no batch rebuild): the column is nullable, and SQLite adds it in place.
    op.add_column('detection_history', sa.Column('verdict', sa.String(length=10), nullable=True))
    extract = EXTRACT.get(op.get_bind().dialect.name)
    if extract is None:
        return  # a database this project does not run on: nothing to copy from, every row stays NULL
    for table, key, column in SOURCES:
        value = extract.format(column=f"{table}.{column}")
        op.execute(
            f"UPDATE detection_history SET verdict = (SELECT {value} FROM {table} "
            f"WHERE {table}.id = detection_history.{key} AND {value} IN {KNOWN}) "
            f"WHERE detection_history.{key} IS NOT NULL"
        )


def downgrade():
    op.drop_column('detection_history', 'verdict')
