"""staff record editing (withdrawn records and copies, edit log) and counts of searches without results

Revision ID: e3b8d1f6a2c9
Revises: a16fd894c853
Create Date: 2026-11-30 00:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e3b8d1f6a2c9'
down_revision = 'a16fd894c853'
branch_labels = None
depends_on = None

OLD_STATUSES = "('available', 'on_loan', 'on_hold_shelf', 'in_transit', 'missing', 'lost', 'not_for_loan')"
NEW_STATUSES = "('available', 'on_loan', 'on_hold_shelf', 'in_transit', 'missing', 'lost', 'not_for_loan', 'withdrawn')"


def upgrade():
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_item_status'), type_='check')
        batch_op.create_check_constraint('status', f"status IN {NEW_STATUSES}")
    op.create_table(
        'record_edit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('control_number', sa.String(length=64), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_record_edit_staff_id_staff_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_record_edit')),
    )
    with op.batch_alter_table('record_edit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_edit_record_id'), ['record_id'], unique=False)
    op.create_table(
        'search_miss',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('query', sa.String(length=200), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_search_miss')),
        sa.UniqueConstraint('day', 'query', name='uq_search_miss_day_query'),
    )


def downgrade():
    op.drop_table('search_miss')
    with op.batch_alter_table('record_edit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_edit_record_id'))
    op.drop_table('record_edit')
    op.execute("UPDATE item SET status = 'not_for_loan' WHERE status = 'withdrawn'")
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_item_status'), type_='check')
        batch_op.create_check_constraint('status', f"status IN {OLD_STATUSES}")
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_at')
