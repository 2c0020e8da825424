"""history items point at their image, video or camera row by real foreign keys

Revision ID: d4f7a9c31b58
Revises: e8a4b2c6d710
Create Date: 2026-11-30 13:50:00.000000

detection_history named its detection by (detection_type, content_id) only, so every delete had to
remove history rows by hand. It gets image_id / video_id / camera_detection_id, each a foreign key
ON DELETE CASCADE, filled from (detection_type, content_id), with a CHECK that exactly the one of its
type is set and equals content_id. History rows whose detection no longer exists (left by an older
delete) cannot satisfy the keys: they are deleted, and how many is logged.
"""
import logging

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd4f7a9c31b58'
down_revision = 'e8a4b2c6d710'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
# detection_type -> (new column, referred table)
CONTENT_COLUMNS = {"image": ("image_id", "image"), "video": ("video_id", "video"),
                   "camera": ("camera_detection_id", "camera_detection")}
# As history.models.ONE_CONTENT_CHECK (written out: a migration must not change when the models do).
ONE_CONTENT_CHECK = (
    "(detection_type = 'image' AND image_id IS NOT NULL AND image_id = content_id"
    " AND video_id IS NULL AND camera_detection_id IS NULL)"
    " OR (detection_type = 'video' AND video_id IS NOT NULL AND video_id = content_id"
    " AND image_id IS NULL AND camera_detection_id IS NULL)"
    " OR (detection_type = 'camera' AND camera_detection_id IS NOT NULL AND camera_detection_id = content_id"
    " AND image_id IS NULL AND video_id IS NULL)"
)


def upgrade():
    bind = op.get_bind()
    dangling = " OR ".join(
        f"(detection_type = '{kind}' AND NOT EXISTS (SELECT 1 FROM {table} WHERE {table}.id = content_id))"
        for kind, (_, table) in CONTENT_COLUMNS.items())
    known = ", ".join(f"'{kind}'" for kind in CONTENT_COLUMNS)
    removed = bind.execute(sa.text(
        f"DELETE FROM detection_history WHERE {dangling} OR detection_type NOT IN ({known})")).rowcount
    log.info("History foreign keys: deleted %d history row(s) whose detection no longer exists", removed)

    # Plain ADD COLUMN first (no table rebuild yet), so the keys can be filled before the constraints exist.
    with op.batch_alter_table('detection_history') as batch:
        for column, _ in CONTENT_COLUMNS.values():
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
    for kind, (column, _) in CONTENT_COLUMNS.items():
        bind.execute(sa.text(f"UPDATE detection_history SET {column} = content_id WHERE detection_type = :kind"),
                     {"kind": kind})

    # SQLite rebuilds the table here (env.py turns foreign keys off meanwhile); AUTOINCREMENT is kept.
    with op.batch_alter_table('detection_history', table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index('ix_detection_history_type_content')
        for column, table in CONTENT_COLUMNS.values():
            batch.create_foreign_key(op.f(f'fk_detection_history_{column}_{table}'), table, [column], ['id'],
                                     ondelete='CASCADE')
            batch.create_index(op.f(f'ix_detection_history_{column}'), [column], unique=False)
        batch.create_check_constraint(op.f('ck_detection_history_one_content'), sa.text(ONE_CONTENT_CHECK))


def downgrade():
    with op.batch_alter_table('detection_history', table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint(op.f('ck_detection_history_one_content'), type_='check')
        for column, table in CONTENT_COLUMNS.values():
            batch.drop_index(op.f(f'ix_detection_history_{column}'))
            batch.drop_constraint(op.f(f'fk_detection_history_{column}_{table}'), type_='foreignkey')
            batch.drop_column(column)
        batch.create_index('ix_detection_history_type_content', ['detection_type', 'content_id'], unique=False)
