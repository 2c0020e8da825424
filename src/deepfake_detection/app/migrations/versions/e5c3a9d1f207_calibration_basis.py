"""what a calibration of the ensemble's combination was fitted over: its members and their calibrations' ids

Revision ID: e5c3a9d1f207
Revises: d2b6f8a4c917
Create Date: 2026-11-30 18:30:00.000000

NULL for a model's own calibration (and every row from before): only the combination depends on others.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e5c3a9d1f207'
down_revision = 'd2b6f8a4c917'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE (no batch rebuild): the column is nullable, and SQLite adds it in place.
    op.add_column('calibration', sa.Column('basis', sa.JSON(), nullable=True))


def downgrade():
    op.drop_column('calibration', 'basis')
