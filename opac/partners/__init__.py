"""Partner libraries harvested over OAI-PMH into a union search (their records are never ours to lend)."""
