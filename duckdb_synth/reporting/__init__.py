"""The report: how close a synthetic table is to the real one, and what it cost.

Above the pipeline: ``build`` (the ``Report``: four tables and the data behind the
plots) from ``columns`` (both tables read alike), ``quality`` (shapes, pair trends,
marginals, deep structure) and ``disclosure`` (exact copies, distance to the closest
record, what the run spent); ``html`` (one self-contained page), ``cache`` (what the
SQL functions keep), and ``canary`` (planted secrets: do they come back?).
"""
