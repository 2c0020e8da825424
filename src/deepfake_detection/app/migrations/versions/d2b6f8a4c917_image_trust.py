"""the trust detail of each image verdict: three-way verdict, reasons, members, robustness, faces summary

Revision ID: d2b6f8a4c917
Revises: c4a7e2f9b813
Create Date: 2026-11-30 17:10:00.000000

Rows from before keep NULL: they were judged before the three-way verdict existed.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd2b6f8a4c917'
down_revision = 'c4a7e2f9b813'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE (no batch rebuild): the column is nullable, and SQLite adds it in place.
    op.add_column('image', sa.Column('trust', sa.JSON(), nullable=True))


def downgrade():
    op.drop_column('image', 'trust')
