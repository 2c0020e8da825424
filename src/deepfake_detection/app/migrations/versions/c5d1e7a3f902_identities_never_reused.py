"""ids are never reused: AUTOINCREMENT on SQLite for every table whose ids leave the server

Revision ID: c5d1e7a3f902
Revises: b7e41c09d2a5
Create Date: 2026-11-30 13:00:00.000000

A JWT names its user by id. Without AUTOINCREMENT, SQLite hands the highest id out again once its row
is deleted, so a deleted user's unexpired token would act as the next user to sign up (and an old
image, video or job id would name someone else's). PostgreSQL's sequences never hand an id out twice,
so there is nothing to do there.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c5d1e7a3f902'
down_revision = 'b7e41c09d2a5'
branch_labels = None
depends_on = None

# Parents before children; every id here is seen by clients (tokens, URLs, answers).
TABLES = ("user", "image", "video", "camera_detection", "detection_history", "job")
# Expression indexes the table rebuild cannot copy (SQLite reflection skips them): recreated by hand.
USER_EXPRESSION_INDEXES = {
    "uq_user_lower_username": "lower(username)",
    "uq_user_lower_email": "lower(email)",
}


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    # env.py runs SQLite migrations with foreign keys off: rebuilding "user" drops it, which with them on
    # would first delete every row of the tables pointing at it (ON DELETE CASCADE).
    for name in USER_EXPRESSION_INDEXES:
        op.drop_index(name, table_name="user")
    for table in TABLES:
        # The rebuild copies every row with its id; SQLite's sqlite_sequence then starts after the highest.
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
    for name, expression in USER_EXPRESSION_INDEXES.items():
        op.execute(f'CREATE UNIQUE INDEX {name} ON "user" ({expression})')


def downgrade():
    # AUTOINCREMENT is harmless to the previous code, and taking it away would let ids be reused again.
    pass
