"""staff two-factor authentication, signed-in devices, known devices, staff notices

Revision ID: b7c2e9d41f03
Revises: ca6441ca5e81
Create Date: 2026-11-29 20:30:00

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c2e9d41f03'
down_revision = 'ca6441ca5e81'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ref', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('device', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('ip_prefix', sa.String(length=48), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_auth_session_ref'), ['ref'])
    # sessions that exist already get a public id too, so they can be listed and signed out
    conn = op.get_bind()
    table = sa.table('auth_session', sa.column('id', sa.String), sa.column('ref', sa.String))
    for (row_id,) in conn.execute(sa.select(table.c.id).where(table.c.ref.is_(None))).all():
        conn.execute(table.update().where(table.c.id == row_id).values(ref=secrets.token_urlsafe(12)))

    op.create_table('known_device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('device_hash', sa.String(length=64), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_known_device'))
    )
    with op.batch_alter_table('known_device', schema=None) as batch_op:
        batch_op.create_index('uq_known_device', ['kind', 'user_id', 'device_hash'], unique=True)

    op.create_table('staff_two_factor',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('last_step', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_staff_two_factor_staff_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_staff_two_factor'))
    )
    op.create_table('staff_recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=255), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_staff_recovery_code_staff_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_recovery_code'))
    )
    with op.batch_alter_table('staff_recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_recovery_code_staff_id'), ['staff_id'], unique=False)

    op.create_table('staff_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_staff_notice_staff_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_notice'))
    )
    with op.batch_alter_table('staff_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_notice_staff_id'), ['staff_id'], unique=False)


def downgrade():
    with op.batch_alter_table('staff_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_notice_staff_id'))
    op.drop_table('staff_notice')
    with op.batch_alter_table('staff_recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_recovery_code_staff_id'))
    op.drop_table('staff_recovery_code')
    op.drop_table('staff_two_factor')
    with op.batch_alter_table('known_device', schema=None) as batch_op:
        batch_op.drop_index('uq_known_device')
    op.drop_table('known_device')
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_auth_session_ref'), type_='unique')
        batch_op.drop_column('ip_prefix')
        batch_op.drop_column('device')
        batch_op.drop_column('ref')
