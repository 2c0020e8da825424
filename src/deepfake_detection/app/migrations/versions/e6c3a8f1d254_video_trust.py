"""the trust detail of each video verdict: three-way verdict, reasons, segments, fake share, members, calibration

Revision ID: e6c3a8f1d254
Revises: e5c3a7d9f214
Create Date: 2026-11-30 18:30:00.000000

Rows from before keep NULL: they were judged before videos had the three-way verdict.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e6c3a8f1d254'
down_revision = 'e5c3a7d9f214'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE (no batch rebuild): the column is nullable, and SQLite adds it in place.
    op.add_column('video', sa.Column('trust', sa.JSON(), nullable=True))


def downgrade():
    op.drop_column('video', 'trust')
