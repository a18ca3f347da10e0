"""Patron services for campus libraries: purchase suggestions, patron and course reading lists,
and the shelf neighbours of a record."""
