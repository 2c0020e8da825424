"""indexes for the camera frame retention purge

Revision ID: b7e41c09d2a5
Revises: 3f2c9a1d7b64
Create Date: 2026-11-24 09:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7e41c09d2a5'
down_revision = '3f2c9a1d7b64'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_camera_detection_detection_date', 'camera_detection', ['detection_date'], unique=False)
    op.create_index('ix_detection_history_type_content', 'detection_history', ['detection_type', 'content_id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_detection_history_type_content', table_name='detection_history')
    op.drop_index('ix_camera_detection_detection_date', table_name='camera_detection')
