"""oai: deleted-record tombstones and an index on record.updated_at (the OAI-PMH datestamp)

Revision ID: c0a1e5d2f7b3
Revises: c7e1a9d3f5b2
Create Date: 2026-11-29 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0a1e5d2f7b3'
down_revision = 'c7e1a9d3f5b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'record_tombstone',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('control_number', sa.String(length=64), nullable=False),
        sa.Column('deleted_at', sa.DateTime(), nullable=False),
        sa.Column('sets', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_record_tombstone')),
        sa.UniqueConstraint('control_number', name=op.f('uq_record_tombstone_control_number')),
    )
    with op.batch_alter_table('record_tombstone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_tombstone_deleted_at'), ['deleted_at'], unique=False)
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_updated_at'), ['updated_at'], unique=False)


def downgrade():
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_updated_at'))
    with op.batch_alter_table('record_tombstone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_tombstone_deleted_at'))
    op.drop_table('record_tombstone')
