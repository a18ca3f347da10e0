"""saved searches, visits, one clearance letter and one open sign-up per address

Revision ID: a16fd894c853
Revises: 98f087bf171c
Create Date: 2026-11-29 23:52:22.845906

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16fd894c853'
down_revision = '98f087bf171c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('visit_count',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('visits', sa.Integer(), nullable=False),
    sa.CheckConstraint('hour >= 0 AND hour <= 23', name=op.f('ck_visit_count_hour')),
    sa.PrimaryKeyConstraint('day', 'hour', name=op.f('pk_visit_count'))
    )
    op.create_table('patron_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patron_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('visited_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patron_id'], ['patron.id'], name=op.f('fk_patron_visit_patron_id_patron'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patron_visit'))
    )
    with op.batch_alter_table('patron_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patron_visit_day'), ['day'], unique=False)
        batch_op.create_index('uq_patron_visit_day', ['patron_id', 'day'], unique=True)

    op.create_table('saved_search',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patron_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('query', sa.String(length=1000), nullable=False),
    sa.Column('alerts', sa.Boolean(), nullable=False),
    sa.Column('alert_email', sa.Boolean(), nullable=False),
    sa.Column('alert_push', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=True),
    sa.Column('next_check_at', sa.DateTime(), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['patron_id'], ['patron.id'], name=op.f('fk_saved_search_patron_id_patron'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_search'))
    )
    with op.batch_alter_table('saved_search', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_search_next_check_at'), ['next_check_at'], unique=False)
        batch_op.create_index('uq_saved_search_patron_query', ['patron_id', 'query'], unique=True)

    op.create_table('saved_search_match',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('saved_search_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('found_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['record.id'], name=op.f('fk_saved_search_match_record_id_record'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['saved_search_id'], ['saved_search.id'], name=op.f('fk_saved_search_match_saved_search_id_saved_search'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_search_match'))
    )
    with op.batch_alter_table('saved_search_match', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_search_match_record_id'), ['record_id'], unique=False)
        batch_op.create_index('uq_saved_search_match', ['saved_search_id', 'record_id'], unique=True)

    # before the unique indexes: older duplicates (possible until now) give way to the newest
    op.execute("UPDATE clearance_letter SET revoked_at = CURRENT_TIMESTAMP, "
               "revoked_reason = 'Replaced by a later letter' "
               "WHERE revoked_at IS NULL AND patron_id IS NOT NULL AND id NOT IN "
               "(SELECT max(id) FROM clearance_letter WHERE revoked_at IS NULL GROUP BY patron_id)")
    op.execute("DELETE FROM registration WHERE status = 'unverified' AND id NOT IN "
               "(SELECT max(id) FROM registration WHERE status IN ('unverified', 'pending') GROUP BY lower(email))")
    op.execute("UPDATE registration SET status = 'rejected' WHERE status = 'pending' AND id NOT IN "
               "(SELECT max(id) FROM registration WHERE status IN ('unverified', 'pending') GROUP BY lower(email))")
    op.create_index('uq_registration_open_email', 'registration', [sa.text('lower(email)')], unique=True,
                    sqlite_where=sa.text("status IN ('unverified', 'pending')"),
                    postgresql_where=sa.text("status IN ('unverified', 'pending')"))
    with op.batch_alter_table('clearance_letter', schema=None) as batch_op:
        batch_op.create_index('uq_clearance_letter_patron_active', ['patron_id'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))



def downgrade():
    op.drop_index('uq_registration_open_email', table_name='registration')
    with op.batch_alter_table('clearance_letter', schema=None) as batch_op:
        batch_op.drop_index('uq_clearance_letter_patron_active', sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))

    with op.batch_alter_table('saved_search_match', schema=None) as batch_op:
        batch_op.drop_index('uq_saved_search_match')
        batch_op.drop_index(batch_op.f('ix_saved_search_match_record_id'))

    op.drop_table('saved_search_match')
    with op.batch_alter_table('saved_search', schema=None) as batch_op:
        batch_op.drop_index('uq_saved_search_patron_query')
        batch_op.drop_index(batch_op.f('ix_saved_search_next_check_at'))

    op.drop_table('saved_search')
    with op.batch_alter_table('patron_visit', schema=None) as batch_op:
        batch_op.drop_index('uq_patron_visit_day')
        batch_op.drop_index(batch_op.f('ix_patron_visit_day'))

    op.drop_table('patron_visit')
    op.drop_table('visit_count')
