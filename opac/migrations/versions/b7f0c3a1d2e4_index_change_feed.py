"""index change feed replaces the index outbox

Revision ID: b7f0c3a1d2e4
Revises: b3d5f7a9c1e2
Create Date: 2026-11-29 20:30:00

Each node's follower reads the feed from its own position, so rows stay after being applied
and are pruned by age. Pending outbox rows are carried over (a follower without a stored
position rebuilds anyway).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7f0c3a1d2e4'
down_revision = 'b3d5f7a9c1e2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('index_change',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_index_change')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('index_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_index_change_created_at'), ['created_at'], unique=False)
    op.execute("INSERT INTO index_change (record_id, kind, created_at) "
               "SELECT record_id, 'upsert', created_at FROM index_outbox ORDER BY id")
    with op.batch_alter_table('index_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_index_outbox_record_id'))
    op.drop_table('index_outbox')


def downgrade():
    op.create_table('index_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_index_outbox'))
    )
    with op.batch_alter_table('index_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_index_outbox_record_id'), ['record_id'], unique=False)
    with op.batch_alter_table('index_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_index_change_created_at'))
    op.drop_table('index_change')
