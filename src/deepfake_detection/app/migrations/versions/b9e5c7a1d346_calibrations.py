"""calibrations of the deployment's detectors

Revision ID: b9e5c7a1d346
Revises: f3b8d2e6a914
Create Date: 2026-11-30 15:50:00.000000

Every fitted calibration is kept (versioned by id); a partial unique index allows one active per model.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b9e5c7a1d346'
down_revision = 'f3b8d2e6a914'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'calibration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('model_key', sa.String(length=80), nullable=False),
        sa.Column('model_revision', sa.String(length=255), nullable=True),
        sa.Column('method', sa.String(length=20), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('n_real', sa.Integer(), nullable=False),
        sa.Column('n_fake', sa.Integer(), nullable=False),
        sa.Column('brier_before', sa.Float(), nullable=False),
        sa.Column('brier_after', sa.Float(), nullable=False),
        sa.Column('ece_before', sa.Float(), nullable=False),
        sa.Column('ece_after', sa.Float(), nullable=False),
        sa.Column('parameters', sa.JSON(), nullable=False),
        sa.Column('reliability', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by'], ['user.id'], name=op.f('fk_calibration_created_by_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration')),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_calibration_model_key'), 'calibration', ['model_key'], unique=False)
    op.create_index('uq_calibration_active_model', 'calibration', ['model_key'], unique=True,
                    sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))


def downgrade():
    op.drop_index('uq_calibration_active_model', table_name='calibration')
    op.drop_index(op.f('ix_calibration_model_key'), table_name='calibration')
    op.drop_table('calibration')
