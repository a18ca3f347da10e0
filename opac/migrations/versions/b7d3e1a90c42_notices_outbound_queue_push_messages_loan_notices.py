"""notices: outbound queue columns on outbox_email, push_message queue, loan_notice (once per loan)

Revision ID: b7d3e1a90c42
Revises: b7f0c3a1d2e4
Create Date: 2026-11-29 20:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d3e1a90c42'
down_revision = 'b7f0c3a1d2e4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='pending', nullable=False))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
    # what was sent stays sent; what failed under the old sender becomes a dead letter staff can retry
    op.execute("UPDATE outbox_email SET status = 'sent' WHERE sent_at IS NOT NULL")
    op.execute("UPDATE outbox_email SET status = 'dead', attempts = 1 WHERE sent_at IS NULL AND error IS NOT NULL")
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_outbox_email_status'), "status IN ('pending', 'sent', 'dead', 'cancelled')")
        batch_op.create_index('ix_outbox_email_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('push_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patron_id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sent', 'dead', 'cancelled')", name=op.f('ck_push_message_status')),
    sa.ForeignKeyConstraint(['patron_id'], ['patron.id'], name=op.f('fk_push_message_patron_id_patron'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['push_subscription.id'], name=op.f('fk_push_message_subscription_id_push_subscription'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_message'))
    )
    with op.batch_alter_table('push_message', schema=None) as batch_op:
        batch_op.create_index('ix_push_message_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_message_patron_id'), ['patron_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_message_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('loan_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_loan_notice_loan_id_loan'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_notice')),
    sa.UniqueConstraint('loan_id', 'kind', 'due_date', name='uq_loan_notice_loan_kind_due')
    )
    # notices the old columns say were sent are not sent again
    op.execute("INSERT INTO loan_notice (loan_id, kind, due_date, created_at) "
               "SELECT id, 'due_soon', due_notice_for, CURRENT_TIMESTAMP FROM loan "
               "WHERE returned_at IS NULL AND due_notice_for IS NOT NULL AND due_notice_for = due_date")
    for n, step in ((1, 1), (2, 7), (3, 14)):
        op.execute(f"INSERT INTO loan_notice (loan_id, kind, due_date, created_at) "
                   f"SELECT id, 'overdue_{step}', due_date, CURRENT_TIMESTAMP FROM loan "
                   f"WHERE returned_at IS NULL AND overdue_notices >= {n}")


def downgrade():
    op.drop_table('loan_notice')
    with op.batch_alter_table('push_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_message_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_push_message_patron_id'))
        batch_op.drop_index('ix_push_message_due')
    op.drop_table('push_message')
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_email_due')
        batch_op.drop_constraint(op.f('ck_outbox_email_status'), type_='check')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('status')
