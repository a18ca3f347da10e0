"""selfcheck: loans remember their channel (desk or self-checkout); online registrations

Revision ID: c5e1a7b3d9f4
Revises: b7d3e1a90c42
Create Date: 2026-11-29 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5e1a7b3d9f4'
down_revision = 'b7d3e1a90c42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('loan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=8), server_default='desk', nullable=False))
        batch_op.create_index('ix_loan_channel', ['channel', 'checked_out_at'], unique=False)
    op.create_table(
        'registration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('whatsapp', sa.String(length=32), nullable=True),
        sa.Column('pin_hash', sa.String(length=255), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('verified_at', sa.DateTime(), nullable=True),
        sa.Column('consent_at', sa.DateTime(), nullable=False),
        sa.Column('patron_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('unverified', 'pending', 'approved', 'rejected')",
                           name=op.f('ck_registration_status')),
        sa.ForeignKeyConstraint(['patron_id'], ['patron.id'], name=op.f('fk_registration_patron_id_patron'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_registration')),
        sa.UniqueConstraint('patron_id', name=op.f('uq_registration_patron_id')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_registration_token_hash')),
    )
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registration_email'), ['email'], unique=False)


def downgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registration_email'))
    op.drop_table('registration')
    with op.batch_alter_table('loan', schema=None) as batch_op:
        batch_op.drop_index('ix_loan_channel')
        batch_op.drop_column('channel')
