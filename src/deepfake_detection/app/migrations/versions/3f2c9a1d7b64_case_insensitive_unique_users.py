"""usernames and emails unique ignoring case

Revision ID: 3f2c9a1d7b64
Revises: 8d9f6382c551
Create Date: 2026-11-24 08:50:00.000000

"""
import sqlalchemy as sa
from alembic import op

from deepfake_detection.app.database import MigrationRefused

# revision identifiers, used by Alembic.
revision = '3f2c9a1d7b64'
down_revision = '8d9f6382c551'
branch_labels = None
depends_on = None


def upgrade():
    # Refuse rather than rename: silently changing someone's login name would lock them out.
    clashes = _case_clashes("username") + _case_clashes("email")
    if clashes:
        raise MigrationRefused(
            "Cannot make usernames and emails unique ignoring case; these accounts clash: "
            + "; ".join(clashes)
            + ". Rename or delete all but one account of each group "
            "(e.g. UPDATE \"user\" SET username = 'bob2' WHERE id = 7), then run the upgrade again."
        )
    # Plain CREATE INDEX on both SQLite and PostgreSQL (no batch table rebuild, which on SQLite would
    # drop and recreate "user" under the foreign keys that point at it).
    op.create_index('uq_user_lower_username', 'user', [sa.text('lower(username)')], unique=True)
    op.create_index('uq_user_lower_email', 'user', [sa.text('lower(email)')], unique=True)


def downgrade():
    op.drop_index('uq_user_lower_email', table_name='user')
    op.drop_index('uq_user_lower_username', table_name='user')


def _case_clashes(column: str) -> list[str]:
    """Groups of accounts whose ``column`` differs only in case, described for the error message."""
    rows = op.get_bind().execute(sa.text(
        f'SELECT id, {column} FROM "user" WHERE lower({column}) IN '
        f'(SELECT lower({column}) FROM "user" GROUP BY lower({column}) HAVING count(*) > 1) '
        f'ORDER BY lower({column}), id'
    )).all()
    groups: dict[str, list[str]] = {}
    for user_id, value in rows:
        groups.setdefault(value.lower(), []).append(f"{value!r} (id {user_id})")
    return [f"{column} " + " / ".join(members) for members in groups.values()]
