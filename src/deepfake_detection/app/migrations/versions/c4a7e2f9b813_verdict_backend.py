"""the inference backend of each image and video verdict

Revision ID: c4a7e2f9b813
Revises: b9e5c7a1d346
Create Date: 2026-11-30 17:00:00.000000

Rows from before keep NULL: which backend produced them was not recorded.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4a7e2f9b813'
down_revision = 'b9e5c7a1d346'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE (no batch rebuild): the columns are nullable, and SQLite adds them in place.
    op.add_column('image', sa.Column('backend', sa.String(length=64), nullable=True))
    op.add_column('video', sa.Column('backend', sa.String(length=64), nullable=True))


def downgrade():
    op.drop_column('video', 'backend')
    op.drop_column('image', 'backend')
