"""The HTML report in a real headless browser: it loads nothing and every plot is drawn.

Needs Debian's chromium and chromium-driver (``apt-get install -y chromium chromium-driver``);
skipped, saying so, where they are missing. ``bench/render_report.py`` does the same
on the bundled example table and keeps the screenshot.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest

import duckdb_synth
from conftest import load, make_patients

_spec = importlib.util.spec_from_file_location("render_report", Path(__file__).resolve().parents[1] / "bench" /
                                               "render_report.py")
render_report = importlib.util.module_from_spec(_spec)
sys.modules["render_report"] = render_report  # its dataclasses look their module up there
_spec.loader.exec_module(render_report)

pytestmark = pytest.mark.skipif(render_report.available() is not None,
                                reason=f"no headless browser here: {render_report.available()}")


def test_page_loads_nothing_and_draws_every_plot(tmp_path):
    from PIL import Image

    con = duckdb.connect()
    try:
        duckdb_synth.register(con)
        load(con, "patients", make_patients())
        con.execute("CREATE TABLE ps AS SELECT * FROM synthesize('patients', mode := 'strict', seed := 1)")
        page = duckdb_synth.report(con, "patients", "ps").to_html(tmp_path / "report.html")
    finally:
        con.close()
    # A control page that does ask for something, to show the check sees requests: the proxy at
    # 127.0.0.1:9 (where nothing listens) gets it, so it does not leave the machine either.
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><html><body><svg width="200" height="100"><path d="M0 0L9 9"/></svg>'
                       '<img src="http://127.0.0.1:9/never.png"></body></html>')
    good, bad = render_report.render_all([(page, tmp_path / "report.png"), (control, tmp_path / "control.png")])
    assert good.requests == [] and good.empty == [] and good.ok
    assert good.svgs == 10 + 3  # one per column, the heatmaps, PCA, distances
    assert bad.requests == ["http://127.0.0.1:9/never.png"] and not bad.ok
    image = np.asarray(Image.open(good.png).convert("L"))
    assert image.shape[1] == 1280 and image.shape[0] > 2000
    assert image.std() > 20  # not a blank page
