"""Privacy: noise, the budget, the mechanisms that read the data, and the record of releases.

Above the engine (which counts exactly) and below the pipeline:

* ``noise`` (the discrete Gaussian sampler, thresholds, the run's random streams),
  ``accounting`` (zCDP, conversions, the accountant that refuses to overspend),
  ``budget`` (how a run splits its budget), ``spend`` (what a run spent, step by step);
* one module per stage that looks at the data, each charging what it reads:
  ``discovery`` (domains), ``measure`` (row count, noisy marginals), ``select`` and
  ``adaptive`` (which marginals, by the exponential mechanism), ``fit`` (the model
  stage that strings them together, per mode);
* ``ledger``: each finished run (``Result``) and the record of runs per connection.

docs/privacy.md is the analysis, step by step.
"""
