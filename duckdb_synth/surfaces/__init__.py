"""The surfaces: how people reach the product. Top layer of the package.

``api`` (the Python run functions), ``sql`` (``register``: the SQL macros and their
UDFs), ``cli`` (the ``duckdb-synth`` command), ``shell`` with ``statements`` and
``render`` (the SQL shell and script runner), ``demo``.
"""
