"""FAQ suggestions answer patrons' questions: the right entry in the top 3 for at least 80%."""

from __future__ import annotations

from sqlalchemy import select

from opac.demo.faq import FAQS, load_faq
from opac.extensions import db
from opac.reference.models import FaqEntry
from opac.reference.services import faq_matcher
from tests.reference.faq_questions import QUESTIONS


def top3_rate(app) -> tuple[float, list]:
    with app.test_request_context():
        load_faq()
        db.session.commit()
        by_question = {e.question: e.id for e in db.session.scalars(select(FaqEntry))}
        key_to_id = {key: by_question[q] for key, _c, q, _a, _k in FAQS}
        matcher = faq_matcher()
        misses, hits = [], 0
        for text, key in QUESTIONS:
            top = [e.id for e, _s in matcher.match(text, limit=3)]
            if key_to_id[key] in top:
                hits += 1
            else:
                misses.append((text, key))
    return hits / len(QUESTIONS), misses


def test_at_least_20_questions_and_80_percent_in_top_3(app):
    assert len(QUESTIONS) >= 20
    rate, misses = top3_rate(app)
    print(f"FAQ top-3 success: {rate:.2f} over {len(QUESTIONS)} questions; misses: {misses}")
    assert rate >= 0.8, misses
