"""job error code instead of an HTTP status

Revision ID: a3d9c1f05b27
Revises: d4f7a9c31b58
Create Date: 2026-11-30 13:50:00.000000

A job row records what went wrong as a domain error code (see app/domain_errors.py); errors.py alone
turns a code into an HTTP status. Existing rows keep their meaning: each stored status becomes the
code that maps back to it (a failed job's 409 was a cancellation, its 400 bad media, its 503 a
missing model).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a3d9c1f05b27'
down_revision = 'd4f7a9c31b58'
branch_labels = None
depends_on = None

# error_status -> error_code, and back for a downgrade (the code each status came from in the old code).
CODE_BY_STATUS = {400: 'invalid_media', 404: 'not_found', 409: 'cancelled', 503: 'model_unavailable', 500: 'internal'}
STATUS_BY_CODE = {
    'invalid_media': 400, 'invalid_input': 400, 'unknown_model': 400, 'not_found': 404, 'cancelled': 409,
    'conflict': 409, 'model_unavailable': 503, 'model_misconfigured': 503, 'unavailable': 503, 'internal': 500,
}


def upgrade():
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_code', sa.String(length=40), nullable=True))
    job = sa.table('job', sa.column('error_status', sa.Integer()), sa.column('error_code', sa.String(40)))
    for status, code in CODE_BY_STATUS.items():
        op.execute(job.update().where(job.c.error_status == status).values(error_code=code))
    # Any other status a row could hold was an unexpected failure.
    op.execute(job.update().where(job.c.error_status.isnot(None), job.c.error_code.is_(None))
               .values(error_code='internal'))
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('error_status')


def downgrade():
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_status', sa.Integer(), nullable=True))
    job = sa.table('job', sa.column('error_status', sa.Integer()), sa.column('error_code', sa.String(40)))
    for code, status in STATUS_BY_CODE.items():
        op.execute(job.update().where(job.c.error_code == code).values(error_status=status))
    op.execute(job.update().where(job.c.error_code.isnot(None), job.c.error_status.is_(None))
               .values(error_status=500))
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('error_code')
