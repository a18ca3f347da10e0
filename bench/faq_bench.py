"""FAQ suggestion quality: for each patron-phrased question, the rank of the FAQ entry that
answers it (goal: in the top 3 for at least 80%).

    .venv/bin/python bench/faq_bench.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main():
    from sqlalchemy import select

    from opac import create_app
    from opac.cli import upgrade_database
    from opac.demo.faq import FAQS, load_faq
    from opac.extensions import db
    from opac.reference.models import FaqEntry
    from opac.reference.services import faq_matcher
    from tests.reference.faq_questions import QUESTIONS

    tmp = Path(tempfile.mkdtemp())
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'faq.sqlite'}", "INDEX_DIR": str(tmp / "ix"),
                      "SECRET_KEY": "bench"})
    with app.test_request_context():
        upgrade_database()
        load_faq()
        db.session.commit()
        ids = {e.question: e.id for e in db.session.scalars(select(FaqEntry))}
        want = {k: ids[q] for k, _c, q, _a, _kw in FAQS}
        top3 = top1 = 0
        for text, key in QUESTIONS:
            ranked = [e.id for e, _s in faq_matcher().match(text, limit=10, min_score=0)]
            rank = ranked.index(want[key]) + 1 if want[key] in ranked else None
            top1 += rank == 1
            top3 += rank is not None and rank <= 3
            print(f"  {'ok ' if rank and rank <= 3 else 'MISS'} rank {rank or '-':>2}  {text}")
    n = len(QUESTIONS)
    print(f"FAQ suggestions: {n} questions, top-1 {top1 / n:.2f}, top-3 {top3 / n:.2f} (goal >= 0.80)")


if __name__ == "__main__":
    main()
