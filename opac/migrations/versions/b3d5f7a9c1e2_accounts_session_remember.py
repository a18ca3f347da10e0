"""accounts: login sessions remember "keep me signed in on this device"

Revision ID: b3d5f7a9c1e2
Revises: b7c2e9d41f03
Create Date: 2026-11-29 20:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3d5f7a9c1e2'
down_revision = 'b7c2e9d41f03'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remember', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.drop_column('remember')
