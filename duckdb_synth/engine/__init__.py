"""The engine: reads the data and does the math. Exact counts, no noise, no budget.

Lowest layer of the package (it imports only ``errors`` and ``options``):

* ``source``, ``schema``, ``plan``: what the source is, its columns and public facts,
  and what becomes of each column;
* ``data``: the seam where every stage reads the data (row count, value counts,
  histograms, marginals of the binned table), ``DuckDBRows`` for DuckDB;
* ``domain``: domains as values, public grids and bins; ``marginal``, ``workload``;
* ``structure`` and ``model/`` (factor, junction tree, Private-PGM estimation, the
  Bayesian network): the model and how it is chosen from exact counts;
* ``sample``, ``rounding``: rows from the model; ``decode``, ``masks``: values of the
  source's types.

Everything that draws noise or spends budget is in ``duckdb_synth.privacy``.
"""
