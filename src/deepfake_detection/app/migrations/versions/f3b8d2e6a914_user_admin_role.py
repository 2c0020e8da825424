"""administrator role on users

Revision ID: f3b8d2e6a914
Revises: a3d9c1f05b27
Create Date: 2026-11-30 15:40:00.000000

Existing accounts stay ordinary users: an operator grants the role with `grant-admin`.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f3b8d2e6a914'
down_revision = 'a3d9c1f05b27'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE on both SQLite and PostgreSQL: a batch rebuild of "user" on SQLite would drop its
    # case-insensitive unique indexes (expressions it cannot reflect) and the table other tables point at.
    op.add_column('user', sa.Column('is_admin', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    op.drop_column('user', 'is_admin')  # SQLite 3.35+ drops a column in place
