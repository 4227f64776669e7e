"""The report as one self-contained HTML page: inline CSS and inline SVG plots, nothing fetched.

Plots are drawn with matplotlib's object API (no pyplot, so no global backend is
switched) and saved as SVG with text kept as text; the scatter plot's points are
rasterized into the SVG as a PNG data URI to keep the page small. The page holds
no script and no reference to any other file or address.
"""
from __future__ import annotations

import datetime as _dt
import html
import io
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .._version import __version__
from ..privacy.spend import BALANCED_PROMISE
from ..engine.schema import far_when

if TYPE_CHECKING:
    from .build import Report
    from .quality import ColumnPlot

REAL, SYNTH = "#3b6ea8", "#e0822f"
RC = {"svg.fonttype": "none", "svg.hashsalt": "duckdb-synth", "font.size": 8.5, "axes.titlesize": 9.5,
      "axes.spines.top": False, "axes.spines.right": False, "font.family": "sans-serif",
      "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "sans-serif"]}
DENSITY_POINTS = 4_000  # values per side behind a density curve
BAR_LIMIT = 30  # a numeric column with at most this many distinct whole values is drawn as bars

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;background:#f6f7f9;
color:#1d2330}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:19px;margin:34px 0 10px;border-bottom:1px solid #d9dde5;padding-bottom:6px}
.sub{color:#5b6577;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:12px;margin-top:16px}
.card{background:#fff;border:1px solid #e0e3ea;border-radius:8px;padding:12px 14px}
.card.overall{grid-column:1/-1;display:flex;gap:22px;align-items:center}
.big{font-size:44px;font-weight:650;line-height:1}
.name{font-weight:600;font-size:14px}.score{font-size:22px;font-weight:650;margin:4px 0}
.expl{color:#5b6577;font-size:12px;line-height:1.35}
.bar{height:7px;background:#e7e9ee;border-radius:4px;overflow:hidden;margin:4px 0 6px}
.bar span{display:block;height:100%}
.good{background:#2f9e5b}.fair{background:#e0a52f}.poor{background:#d0473b}
.tgood{color:#2f7d4b}.tfair{color:#a9740f}.tpoor{color:#b33a2f}
table{border-collapse:collapse;background:#fff;font-size:12.5px;width:100%;border:1px solid #e0e3ea}
th,td{padding:5px 8px;border-bottom:1px solid #eceef2;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:10px}
.plot{background:#fff;border:1px solid #e0e3ea;border-radius:8px;padding:6px}
.plot svg,.wide svg{width:100%;height:auto;display:block}
.wide{background:#fff;border:1px solid #e0e3ea;border-radius:8px;padding:8px;margin-top:10px}
.note{background:#fff8e6;border:1px solid #f0dfae;border-radius:6px;padding:8px 12px;font-size:12.5px;margin-top:12px}
.legend{white-space:nowrap}
.legend span{display:inline-block;width:12px;height:12px;border-radius:2px;margin:0 4px -2px 12px}
.scroll{overflow-x:auto;margin-top:14px}.scroll table{font-size:12px}.scroll td.n{white-space:nowrap}
.r{color:#2d5a8c}.s{color:#b5651d}
.guarantee{font-size:15px;margin:6px 0 12px}
footer{color:#7a8394;font-size:11.5px;margin-top:36px}
details{margin-top:16px}summary{cursor:pointer;font-weight:600;font-size:14px;margin-bottom:8px}
"""


def write_html(rep: Report, path: Path) -> Path:
    """Render `rep` and write it to `path` (all at once: no partial file on failure)."""
    page = render(rep)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk must not leave a part of the page (real statistics) behind
    return path


def render(rep: Report) -> str:
    """The whole page as a string."""
    with matplotlib.rc_context(RC):
        parts = [_head(rep), _scores(rep), _columns(rep), _pairs(rep), _deep(rep), _rules(rep), _aggregates(rep), _privacy(rep),
                 _footer(rep)]
    return "".join(parts) + "</main></body></html>\n"


# ---------------------------------------------------------------- pieces of the page


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _grade(score: float | None) -> str:
    if score is None:
        return ""
    return "good" if score >= 0.9 else "fair" if score >= 0.75 else "poor"


def _num(x: Any, digits: int = 4) -> str:
    """A number for a table cell: thousands separated, `digits` significant digits, no exponent below 1e15."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, int):
        return f"{x:,}"
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    return f"{x:,.{max(digits, len(str(int(abs(x)))))}g}" if abs(x) < 1e15 else f"{x:.{digits}g}"


def _compact(v: float, _pos: Any = None) -> str:
    """An axis tick: 1.5k, 20M, 0.25."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= max(size, 1e4):  # 1950 stays 1950 (years), 25000 becomes 25k
            return f"{v / size:g}{suffix}"
    return f"{v:g}"


def _head(rep: Report) -> str:
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>Synthetic data report: {_e(rep.synth)} vs {_e(rep.real)}</title><style>{CSS}</style></head>"
            f"<body><main><h1>Synthetic data report</h1>"
            f"<div class=\"sub\">real: <b>{_e(rep.real)}</b> ({rep.rows_real:,} rows) &nbsp;·&nbsp; synthetic: "
            f"<b>{_e(rep.synth)}</b> ({rep.rows_synth:,} rows) &nbsp;·&nbsp; {rep.columns.num_rows} columns "
            f"&nbsp;·&nbsp; {when} &nbsp;·&nbsp; computed in {rep.seconds:.1f} s</div>"
            f"<div class=\"note\"><b>For the data owner:</b> this page shows statistics and plots of the real table "
            f"and is not covered by any privacy guarantee. Keep it with the real data; share the synthetic table, "
            f"not this page.</div>")


def _scores(rep: Report) -> str:
    rows = rep.summary.to_pylist()
    overall = rows[-1]
    s = overall["score"]
    out = [f"<div class=\"cards\"><div class=\"card overall\"><div class=\"big t{_grade(s)}\">{s:.2f}</div>"
           f"<div><div class=\"name\">Overall quality score (0 to 1)</div>"
           f"<div class=\"expl\">{_e(overall['explanation'])}. "
           f"{_e(_privacy_line(rep))}</div></div></div>"]
    for r in rows[:-1]:
        score = r["score"]
        shown = "–" if score is None else f"{score:.3f}"
        width = 0 if score is None else max(0.0, min(1.0, score)) * 100
        hold = "" if r.get("holdout") is None else f" <span class=\"expl\">(real vs real {r['holdout']:.3f})</span>"
        out.append(f"<div class=\"card\"><div class=\"name\">{_e(r['property'])}</div>"
                   f"<div class=\"score t{_grade(score)}\">{shown}{hold}</div>"
                   f"<div class=\"bar\"><span class=\"{_grade(score)}\" style=\"width:{width:.1f}%\"></span></div>"
                   f"<div class=\"expl\">{_e(r['explanation'])}</div></div>")
    out.append("</div>")
    out.append("<div class=\"sub legend\">Scores and diagnostics: <span class=\"good\"></span>0.9 or more "
               "<span class=\"fair\"></span>0.75 to 0.9 <span class=\"poor\"></span>below 0.75</div>")
    if rep.notes:
        out.append("<div class=\"note\"><b>Notes:</b> " + " ".join(_e(n) for n in rep.notes) + "</div>")
    return "".join(out)


def _privacy_line(rep: Report) -> str:
    sp = rep.spend
    if sp is None:
        return "Privacy: not from a recorded run, so what it spent is unknown here (see the privacy section)."
    if not sp.private:
        return "Privacy: mode balanced, no formal differential privacy guarantee."
    unit = "" if sp.unit is None else f" for each '{sp.unit}'"
    return f"Privacy: ({sp.epsilon:g}, {sp.delta:g})-differential privacy{unit}, mode {sp.mode}."


def _legend() -> str:
    return (f"<span class=\"legend\"><span style=\"background:{REAL}\"></span>real"
            f"<span style=\"background:{SYNTH}\"></span>synthetic</span>")


def _columns(rep: Report) -> str:
    out = [f"<h2>Columns</h2><div class=\"sub\">KSComplement for numbers and times, TVComplement for categories "
           f"(1 = identical distributions). Plots: density of the non-NULL values, or shares of the most frequent "
           f"values; in the table, each statistic of the real table is above the synthetic one's. {_legend()}</div>"]
    rows = rep.columns.to_pylist()
    out.append("<div class=\"grid\" style=\"margin-top:10px\">")
    for r, plot in zip(rows, rep.plots.columns):
        out.append(f"<div class=\"plot\">{_svg(_column_figure(plot, r))}</div>")
    out.append("</div>")
    out.append("<div class=\"scroll\"><table><tr><th>column</th><th>type</th><th>metric</th><th>score</th>"
               "<th>NULL share</th><th>distinct</th><th>mean</th><th>std</th><th>min</th><th>max</th>"
               "<th>diagnostic</th></tr>")
    for r, plot in zip(rows, rep.plots.columns):
        typ = r["type"] if r["type"] == r["synth_type"] else f"{r['type']} / {r['synth_type']}"
        cells = [_pair(r, "null_share", "{:.1%}"), _pair(r, "distinct", "{:,}")]
        cells += [_pair(r, k, None, r["kind"]) for k in ("mean", "std", "min", "max")]
        metric = r["metric"] + (" (masked)" if plot.masked else "")
        diag = "–" if r.get("adherence") is None else f"{_e(r['diagnostic'])} {r['adherence']:.3f}"
        out.append(f"<tr><td>{_e(r['column'])}</td><td>{_e(typ)}</td><td>{_e(metric)}</td>"
                   f"<td class=\"n t{_grade(r['score'])}\">{r['score']:.3f}</td>"
                   + "".join(f"<td class=\"n\">{c}</td>" for c in cells)
                   + f"<td class=\"n t{_grade(r.get('adherence'))}\">{diag}</td></tr>")
    out.append("</table></div>")
    return "".join(out)


def _pair(r: dict, key: str, fmt: str | None, kind: str = "") -> str:
    """A statistic of both tables: the real one, and the synthetic one below it in its colour."""
    a, b = r[f"real_{key}"], r[f"synth_{key}"]
    if a is None and b is None:
        return "–"
    return (f"<span class=\"r\">{_value(a, fmt, kind, key)}</span><br>"
            f"<span class=\"s\">{_value(b, fmt, kind, key)}</span>")


def _value(x: Any, fmt: str | None, kind: str, key: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if fmt:
        return fmt.format(x)
    if kind == "datetime":
        if key == "std":
            return f"{x / 86400:.4g} d"
        if math.isinf(x):  # (a DATE's or TIMESTAMP's infinity)
            return "infinity" if x > 0 else "-infinity"
        try:
            when = _dt.datetime.fromtimestamp(x, _dt.timezone.utc)
        except (OverflowError, ValueError, OSError):  # BC, or past the year 9999
            return far_when(x, x % 86400 == 0)[:-10 if x % 86400 else None]
        return when.strftime("%Y-%m-%d" if x % 86400 == 0 else "%Y-%m-%d %H:%M")
    if kind == "time":
        if key == "std":
            return f"{x / 3600:.3g} h"
        return f"{int(x // 3600):02d}:{int(x % 3600 // 60):02d}"
    return _num(x)


def _column_figure(plot: ColumnPlot, row: dict) -> Figure:
    fig = Figure(figsize=(3.4, 2.25))
    ax = fig.add_subplot()
    title = f"{_short(plot.name, 26)}  ·  {row['metric']} {row['score']:.3f}" + ("  (masked)" if plot.masked else "")
    fig.text(0.02, 0.975, title, ha="left", va="top", fontsize=9)
    if plot.bars:
        _bars(ax, plot.bars)
    elif plot.real is not None and plot.synth is not None:
        _density(ax, plot)
    # Fixed margins (room for the longest category label) instead of tight_layout, which draws the figure twice.
    longest = max((len(_short(b[0], 16)) for b in plot.bars), default=0)
    fig.subplots_adjust(left=min(0.06 + 0.019 * longest, 0.4) if plot.bars else 0.05, right=0.97, top=0.88,
                        bottom=0.13)
    return fig


def _bars(ax: Any, bars: tuple[tuple[str, float, float], ...]) -> None:
    labels = [_short(b[0], 16) for b in bars][::-1]
    y = np.arange(len(bars))
    real = [b[1] for b in bars][::-1]
    synth = [b[2] for b in bars][::-1]
    ax.barh(y + 0.2, real, height=0.4, color=REAL)
    ax.barh(y - 0.2, synth, height=0.4, color=SYNTH)
    ax.set_yticks(y, labels)
    ax.tick_params(axis="y", length=0, labelsize=7.5 if len(bars) > 8 else 8.5)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.xaxis.set_major_locator(MaxNLocator(4))


def _density(ax: Any, plot: ColumnPlot) -> None:
    rng = np.random.default_rng(0)
    real, synth = plot.real, plot.synth
    real, synth = real[np.isfinite(real)], synth[np.isfinite(synth)]
    both = np.concatenate([real, synth])
    if both.size == 0:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        return
    # Dates and timestamps are drawn in days since 1970, times in hours since midnight.
    scale, unit = {"datetime": (86400.0, "date"), "time": (3600.0, "time")}.get(plot.kind, (1.0, ""))
    real, synth = real / scale, synth / scale
    distinct = np.unique(both)
    if len(distinct) <= BAR_LIMIT and np.all(distinct == np.round(distinct)) and unit == "":
        width = 0.4 * (np.min(np.diff(distinct)) if len(distinct) > 1 else 1.0)
        for values, color, shift in ((real, REAL, -width / 2), (synth, SYNTH, width / 2)):
            if len(values):
                shares = np.array([(values == v).mean() for v in distinct])
                ax.bar(distinct + shift, shares, width=width, color=color)
        ax.set_yticks([])
        ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(_compact))
    else:
        lo, hi = np.quantile(np.concatenate([real, synth]), [0.005, 0.995])
        if hi <= lo:
            lo, hi = lo - 1.0, hi + 1.0
        pad = 0.05 * (hi - lo)
        grid = np.linspace(lo - pad, hi + pad, 240)
        for values, color in ((real, REAL), (synth, SYNTH)):
            if len(values) > 1:
                sample = values if len(values) <= DENSITY_POINTS else rng.choice(values, DENSITY_POINTS, replace=False)
                dens = _kde(sample, grid)
                ax.fill_between(grid, dens, color=color, alpha=0.18, linewidth=0)
                ax.plot(grid, dens, color=color, linewidth=1.4)
        ax.set_xlim(grid[0], grid[-1])
        ax.set_ylim(bottom=0)
        ax.set_yticks([])
    if unit == "date":
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(FuncFormatter(_date_tick))
    elif unit == "time":
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v) % 24:02d}:{int(round(v % 1 * 60)) % 60:02d}"))
        ax.xaxis.set_major_locator(MaxNLocator(5))
    elif not ax.patches:
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(FuncFormatter(_compact))


def _date_tick(days: float, _pos: Any) -> str:
    try:
        return (_dt.date(1970, 1, 1) + _dt.timedelta(days=float(days))).strftime("%Y-%m")
    except (OverflowError, ValueError):
        return ""


def _kde(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A Gaussian kernel density (Scott's bandwidth, floored so a spike still shows) on `grid`."""
    sd = float(np.std(x))
    span = float(grid[-1] - grid[0])
    bw = max(1.06 * sd * len(x) ** (-0.2), span / 200.0, 1e-12)
    dens = np.zeros(len(grid))
    for start in range(0, len(x), 1000):
        z = (grid[None, :] - x[start:start + 1000, None]) / bw
        dens += np.exp(-0.5 * z * z).sum(axis=0)
    return dens / (len(x) * bw * math.sqrt(2 * math.pi))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pairs(rep: Report) -> str:
    p = rep.plots
    d = len(p.names)
    out = ["<h2>Column pairs</h2><div class=\"sub\">Association of every pair: Pearson correlation between two "
           "numeric or time columns, Cramér's V (0 to 1) when one is a category. Column Pair Trends scores each pair "
           "with CorrelationSimilarity or ContingencySimilarity.</div>"]
    if d >= 2:
        fig = Figure(figsize=(11.2, 4.1 if d <= 20 else 5.2))
        axes = fig.subplots(1, 3)
        show_labels = d <= 40
        labels = [_short(n, 14) for n in p.names]
        off = ~np.eye(d, dtype=bool)  # the diagonal (1 by definition) would swamp the colour scale
        real, synth = np.where(off, p.real_assoc, np.nan), np.where(off, p.synth_assoc, np.nan)
        for ax, mat, title in ((axes[0], real, "real"), (axes[1], synth, "synthetic"),
                               (axes[2], synth - real, "synthetic − real")):
            im = ax.imshow(mat, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
            ax.set_title(title)
            if show_labels:
                size = 7 if d <= 15 else 5.5
                ax.set_xticks(range(d), labels, rotation=90, fontsize=size)
                ax.set_yticks(range(d), labels if ax is axes[0] else [], fontsize=size)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
        fig.colorbar(im, ax=list(axes), shrink=0.8, pad=0.015)
        out.append(f"<div class=\"wide\">{_svg(fig, tight=True)}</div>")
    rows = sorted(rep.pairs.to_pylist(), key=lambda r: r["score"])[:10]
    if rows:
        out.append("<table style=\"margin-top:12px\"><tr><th colspan=\"2\">the 10 pairs scored lowest</th>"
                   "<th>metric</th><th>real</th><th>synthetic</th><th>score</th></tr>")
        for r in rows:
            out.append(f"<tr><td>{_e(r['column_1'])}</td><td>{_e(r['column_2'])}</td><td>{_e(r['metric'])}</td>"
                       f"<td class=\"n\">{r['real_association']:.3f}</td>"
                       f"<td class=\"n\">{r['synth_association']:.3f}</td>"
                       f"<td class=\"n t{_grade(r['score'])}\">{r['score']:.3f}</td></tr>")
        out.append("</table>")
    return "".join(out)


def _deep(rep: Report) -> str:
    p = rep.plots
    row = next(r for r in rep.summary.to_pylist() if r["property"].startswith("Deep Structure"))
    out = [f"<h2>Deep structure (PCA)</h2><div class=\"sub\">{_e(row['explanation'])}. {_legend()}</div>"]
    if p.pca_real is None or p.pca_synth is None:
        return "".join(out)
    fig = Figure(figsize=(11.2, 3.9))
    ax, ax1, ax2 = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.25, 1, 1]})
    # Both sets in one random order, so neither hides the other.
    points = np.concatenate([p.pca_real, p.pca_synth])
    colors = np.array([REAL] * len(p.pca_real) + [SYNTH] * len(p.pca_synth))
    order = np.random.default_rng(0).permutation(len(points))
    ax.scatter(points[order, 0], points[order, 1], s=5, c=colors[order], alpha=0.4, linewidths=0, rasterized=True)
    ev = p.pca_explained
    ax.set_xlabel(f"component 1 ({ev[0]:.0%} of the variance)")
    ax.set_ylabel(f"component 2 ({ev[1]:.0%})" if len(ev) > 1 else "")
    ax.set_title("rows on the first two components", loc="left")
    for k, axk in ((0, ax1), (1, ax2)):
        if k >= p.pca_real.shape[1] or (k == 1 and len(ev) < 2):
            axk.set_visible(False)
            continue
        r, s = p.pca_real[:, k], p.pca_synth[:, k]
        lo, hi = np.quantile(np.concatenate([r, s]), [0.005, 0.995])
        if hi <= lo:
            lo, hi = lo - 1, hi + 1
        grid = np.linspace(lo, hi, 200)
        for values, color in ((r, REAL), (s, SYNTH)):
            dens = _kde(values, grid)
            axk.fill_between(grid, dens, color=color, alpha=0.18, linewidth=0)
            axk.plot(grid, dens, color=color, linewidth=1.4)
        axk.set_ylim(bottom=0)
        axk.set_yticks([])
        axk.set_title(f"component {k + 1}", loc="left")
    fig.tight_layout(pad=0.6)
    out.append(f"<div class=\"wide\">{_svg(fig)}</div>")
    return "".join(out)


def _rules(rep: Report) -> str:
    if rep.rules is None or not rep.rules.num_rows:
        return ""
    out = ["<h2>Rules</h2><div class=\"sub\">Rows of each table that break each rule (NULL keeps a rule, as in a "
           "CHECK constraint).</div><table><tr><th>rule</th><th>real rows</th><th>synthetic rows</th></tr>"]
    for r in rep.rules.to_pylist():
        out.append(f"<tr><td><code>{_e(r['rule'])}</code></td><td class=\"n\">{r['real_violations']:,}</td>"
                   f"<td class=\"n\">{r['synth_violations']:,}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _aggregates(rep: Report) -> str:
    if rep.aggregates is None:
        return ""
    out = [f"<h2>Against the aggregate release</h2><div class=\"sub\">The synthetic table's count of every "
           f"combination the release <b>{_e(rep.release)}</b> shows, against the released count, per number of "
           "values combined (Synthetic Data Showcase's preservation).</div>",
           "<table><tr><th>values combined</th><th>combinations shown</th><th>mean absolute error</th>"
           "<th>mean relative error</th></tr>"]
    for r in rep.aggregates.to_pylist():
        rel = "–" if r["mean_rel_error"] is None else f"{r['mean_rel_error']:.1%}"
        out.append(f"<tr><td class=\"n\">{r['length']}</td><td class=\"n\">{r['combinations']:,}</td>"
                   f"<td class=\"n\">{_num(r['mean_abs_error'])}</td><td class=\"n\">{rel}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _privacy(rep: Report) -> str:
    out = ["<h2>Privacy</h2>", f"<div class=\"guarantee\">{_e(_guarantee(rep))}</div>"]
    out.append("<table><tr><th>measure</th><th>synthetic</th><th>holdout of the real table</th>"
               "<th>what it means</th></tr>")
    for r in rep.privacy.to_pylist():
        if r["metric"].startswith("Step"):
            continue
        pct = r["metric"] in ("Exact copies", "DCR share")
        val = "–" if r["value"] is None else (f"{r['value']:.2%}" if pct else _num(r["value"]))
        hold = "–" if r["holdout"] is None else (f"{r['holdout']:.2%}" if pct else _num(r["holdout"]))
        out.append(f"<tr><td>{_e(r['metric'])}</td><td class=\"n\">{val}</td><td class=\"n\">{hold}</td>"
                   f"<td class=\"expl\">{_e(r['explanation'])}</td></tr>")
    out.append("</table>")
    p = rep.plots
    if p.dcr_synth is not None and p.dcr_holdout is not None:
        fig = Figure(figsize=(7.0, 2.5))
        ax = fig.add_subplot()
        hi = float(np.quantile(np.concatenate([p.dcr_synth, p.dcr_holdout]), 0.99)) or 1.0
        bins = np.linspace(0, hi, 50)
        for values, color, label in ((p.dcr_holdout, REAL, "held-out real rows"),
                                     (p.dcr_synth, SYNTH, "synthetic rows")):
            ax.hist(np.minimum(values, hi), bins=bins, color=color, alpha=0.5, label=label, density=True)
        ax.set_title("distance to the closest real row (reference part of the real table)", loc="left")
        ax.set_xlabel("distance (numbers standardized; a different category counts 1)")
        ax.set_yticks([])
        ax.legend(frameon=False)
        fig.tight_layout(pad=0.5)
        out.append(f"<div class=\"wide\" style=\"max-width:720px\">{_svg(fig)}</div>")
    sp = rep.spend
    if sp is not None and sp.steps:
        where = ""
        if rep.run_id:
            where = f" (run {rep.run_id}: <code>SELECT * FROM synth_runs() WHERE run_id = {rep.run_id}</code>)"
        out.append(f"<details><summary>What the run spent, step by step: {len(sp.steps)} steps{where}</summary>")
        out.append("<table><tr><th>step</th><th>ρ (zCDP)</th><th>ε alone</th><th>δ</th><th>detail</th></tr>")
        for r in sp.rows():
            out.append(f"<tr><td>{_e(r['step'])}</td><td class=\"n\">{_num(r['rho'])}</td>"
                       f"<td class=\"n\">{_num(r['epsilon'])}</td><td class=\"n\">{_num(r['delta'])}</td>"
                       f"<td>{_e(r['detail'])}</td></tr>")
        if sp.private:
            delta = sp.delta_threshold_spent + sp.delta / 2
            out.append(f"<tr><th>total</th><th class=\"n\">{_num(sp.rho_spent)}</th>"
                       f"<th class=\"n\">{_num(sp.epsilon_spent)}</th><th class=\"n\">{_num(delta)}</th>"
                       f"<th>steps compose in ρ; the total ε is ≤ the ε asked for ({sp.epsilon:g})</th></tr>")
        out.append("</table></details>")
    return "".join(out)


def _guarantee(rep: Report) -> str:
    sp = rep.spend
    if sp is None:
        return ("Not from a recorded run: this synthetic table is not the output of a synthesize() run known here, "
                "so no privacy guarantee can be stated for it. The measures below describe the data only.")
    if not sp.private:
        return f"Mode balanced: {BALANCED_PROMISE}."
    who = "every row of the real table" if sp.unit is None else f"every '{sp.unit}' of the real table (at most " \
        f"{sp.unit_rows:,} rows each kept)"
    seeded = " Seeded run: whoever knows the seed can remove the noise, so the guarantee is void." if sp.seeded else ""
    return (f"Mode {sp.mode}: ({sp.epsilon:g}, {sp.delta:g})-differential privacy for {who}. "
            f"Spent: ε = {sp.epsilon_spent:.4f} of {sp.epsilon:g} (ρ = {sp.rho_spent:.4g} in zCDP) over "
            f"{len(sp.steps)} steps.{seeded}")


def _footer(rep: Report) -> str:
    return (f"<footer>duckdb-synth {__version__} · this page is one file and loads nothing: its plots are inline "
            f"SVG and it holds no script.</footer>")


# ---------------------------------------------------------------- SVG


def _svg(fig: Figure, *, tight: bool = False) -> str:
    """The figure as an inline <svg> element: no XML prolog, DOCTYPE or metadata."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight" if tight else None, pad_inches=0.05,
                metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
