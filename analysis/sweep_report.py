"""`trading-floor sweep-report DATASET`: what a sweep says, as an HTML page (Plotly) or a PNG (matplotlib).

Two questions, from the rows of a sweep dataset (analysis/sweep_dataset.py) whose status is ok:

- **A metric by parameter.** For every grid key and each of its values, each trader's mean of the metric
  over every run with that value (its seeds, and the other keys' values pooled), with a 95 % confidence
  interval from Student's t over those runs (mean +- t(0.975, n-1) * sd / sqrt(n)). n is printed: with two
  seeds the interval is wide, as it should be.
- **Rank stability.** In every run (point and seed) the traders are ranked by the metric, 1 the best (ties
  share the mean rank; a trader without a value, e.g. a Sharpe over no returns, ranks last). Per trader:
  mean rank, its standard deviation, the share of runs it ranked first (alone or tied), and its mean rank at each grid
  point. Over all runs, Kendall's W (coefficient of concordance, no tie correction): 1 when every run
  orders the traders the same way, near 0 when the order is noise.
"""
from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Student's t, 97.5 % quantile, for 1..30 degrees of freedom; beyond 30 the normal 1.96 (within 2 %)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)
HIGHER_IS_BETTER = {"return": True, "total_pnl": True, "sharpe": True, "sortino": True, "max_drawdown": False,
                    "turnover": True, "hit_rate": True, "avg_holding_cycles": True, "fills": True, "fees": False,
                    "shortfall_bps": False}


def t975(df: int) -> float:
    return _T975[df - 1] if 1 <= df <= len(_T975) else 1.96


def mean_ci(values: list[float]) -> tuple[float, float, float, int]:
    """(mean, low, high, n) of the finite values; the interval is nan with fewer than two."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan, math.nan, 0
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan, 1
    half = t975(v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return m, m - half, m + half, int(v.size)


def ranks(values: dict[str, float | None], higher_is_better: bool = True) -> dict[str, float]:
    """1 = best; ties share the mean of their ranks; missing or non-finite values rank last (tied)."""
    def key(name):
        x = values[name]
        ok = x is not None and math.isfinite(x)
        return (0, -x if higher_is_better else x) if ok else (1, 0.0)

    order = sorted(values, key=key)
    out: dict[str, float] = {}
    k = 0
    while k < len(order):
        j = k
        while j + 1 < len(order) and key(order[j + 1]) == key(order[k]):
            j += 1
        for name in order[k: j + 1]:
            out[name] = (k + j) / 2 + 1
        k = j + 1
    return out


def kendall_w(rank_rows: list[dict[str, float]]) -> float:
    """Kendall's coefficient of concordance of m rankings of the same n items (no tie correction)."""
    if not rank_rows:
        return math.nan
    items = sorted(rank_rows[0])
    m, n = len(rank_rows), len(items)
    if n < 2:
        return math.nan
    totals = np.array([sum(r[i] for r in rank_rows) for i in items])
    s = float(((totals - totals.mean()) ** 2).sum())
    return 12 * s / (m**2 * (n**3 - n))


@dataclass
class SweepSummary:
    metric: str
    runs: int  # ok rows
    failed: int
    params: dict[str, list[Any]]  # grid key -> its values, sorted
    by_param: dict[str, list[dict]]  # grid key -> rows {value, trader, mean, low, high, n}
    rank_table: list[dict]  # per trader: mean_rank, sd_rank, first_share, by_point {label: mean rank}
    kendall_w: float
    points: list[str] = field(default_factory=list)  # grid point labels, in first-seen order


def summarise_dataset(rows: list[dict], metric: str = "return") -> SweepSummary:
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}: one of {', '.join(HIGHER_IS_BETTER)}")
    ok = [r for r in rows if r["status"] == "ok" and r["traders"]]
    params: dict[str, set] = defaultdict(set)
    for r in ok:
        for k, v in json.loads(r["params"]).items():
            params[k].add(json.dumps(v))
    grid = {k: sorted((json.loads(v) for v in vals), key=lambda x: (str(type(x)), x)) for k, vals in params.items()}
    by_param: dict[str, list[dict]] = {}
    for key, values in grid.items():
        out = []
        for value in values:
            per_trader: dict[str, list[float]] = defaultdict(list)
            for r in ok:
                if json.loads(r["params"]).get(key) == value:
                    for t in r["traders"]:
                        per_trader[t["trader"]].append(_num(t.get(metric)))
            for trader in sorted(per_trader):
                m, lo, hi, n = mean_ci(per_trader[trader])
                out.append({"value": value, "trader": trader, "mean": m, "low": lo, "high": hi, "n": n})
        by_param[key] = out
    better = HIGHER_IS_BETTER[metric]
    run_ranks = [(r["label"], ranks({t["trader"]: _num(t.get(metric)) for t in r["traders"]}, better)) for r in ok]
    traders = sorted({t for _, rk in run_ranks for t in rk})
    labels = list(dict.fromkeys(label for label, _ in run_ranks))
    table = []
    for t in traders:
        mine = [rk[t] for _, rk in run_ranks if t in rk]
        by_point = {lab: float(np.mean([rk[t] for label, rk in run_ranks if label == lab and t in rk]))
                    for lab in labels}
        table.append({"trader": t, "mean_rank": float(np.mean(mine)), "sd_rank": float(np.std(mine, ddof=1))
                      if len(mine) > 1 else math.nan, "first_share": sum(rk[t] == min(rk.values()) for _, rk in run_ranks if t in rk) / len(mine),
                      "runs": len(mine), "by_point": by_point})
    table.sort(key=lambda row: (row["mean_rank"], row["trader"]))
    complete = [rk for _, rk in run_ranks if set(rk) == set(traders)]
    return SweepSummary(metric, len(ok), sum(r["status"] != "ok" for r in rows), grid, by_param, table,
                        kendall_w(complete), labels)


def _num(v) -> float:
    return math.nan if v is None else float(v)


# -- output -----------------------------------------------------------------------------------------------

def write_report(summary: SweepSummary, out: str | Path, title: str = "Sweep report") -> Path:
    """HTML (self-contained, Plotly) or PNG (matplotlib), chosen by the file's suffix."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".png":
        return _write_png(summary, path, title)
    if path.suffix.lower() in (".html", ".htm"):
        return _write_html(summary, path, title)
    raise ValueError(f"{path.name}: the report is .html or .png")


def _fmt(x: float, spec: str = "{:+.4f}") -> str:
    return "n/a" if x is None or not math.isfinite(x) else spec.format(x)


def _write_html(s: SweepSummary, path: Path, title: str) -> Path:
    import plotly.graph_objects as go
    import plotly.io as pio

    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{s.runs} runs ({s.failed} failed, not counted); metric <b>{html.escape(s.metric)}</b>; "
             "bars: 95 % confidence intervals over the runs at each value (Student's t).</p>"]
    first = True
    for key, rows in s.by_param.items():
        fig = go.Figure()
        for trader in sorted({r["trader"] for r in rows}):
            mine = [r for r in rows if r["trader"] == trader]
            err = [(r["high"] - r["mean"]) if math.isfinite(r["high"]) else 0.0 for r in mine]
            fig.add_trace(go.Scatter(x=[str(r["value"]) for r in mine], y=[r["mean"] for r in mine], name=trader,
                                     mode="lines+markers", error_y=dict(type="data", array=err, visible=True)))
        fig.update_layout(title=f"{s.metric} by {key}", xaxis_title=key, yaxis_title=s.metric, height=420,
                          template="plotly_white", margin=dict(l=50, r=20, t=50, b=40))
        parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=first))
        first = False
    parts.append(f"<h2>Rank stability by {html.escape(s.metric)}</h2><p>Kendall's W over all runs: "
                 f"<b>{_fmt(s.kendall_w, '{:.3f}')}</b> (1: every run ranks the traders alike; 0: no agreement)."
                 "</p>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in
                   ["trader", "mean rank", "sd", "ranked first", "runs", *s.points])
    body = "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in [
            html.escape(r["trader"]), _fmt(r["mean_rank"], "{:.2f}"), _fmt(r["sd_rank"], "{:.2f}"),
            f"{100 * r['first_share']:.0f} %", r["runs"], *(_fmt(r["by_point"][p], "{:.2f}") for p in s.points)])
        + "</tr>" for r in s.rank_table)
    parts.append(f"<table border=1 cellspacing=0 cellpadding=4><tr>{head}</tr>{body}</table>")
    for key, rows in s.by_param.items():
        parts.append(f"<h3>{html.escape(s.metric)} by {html.escape(key)}</h3><table border=1 cellspacing=0 "
                     "cellpadding=4><tr><th>value</th><th>trader</th><th>mean</th><th>95 % CI</th><th>n</th></tr>"
                     + "".join(f"<tr><td>{html.escape(str(r['value']))}</td><td>{html.escape(r['trader'])}</td>"
                               f"<td>{_fmt(r['mean'])}</td><td>{_fmt(r['low'])} .. {_fmt(r['high'])}</td>"
                               f"<td>{r['n']}</td></tr>" for r in rows) + "</table>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif'>{''.join(parts)}</body></html>")
    path.write_text(page, encoding="utf-8")
    return path


def _write_png(s: SweepSummary, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(s.by_param)
    panels = len(keys) + 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.5), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=False):
        rows = s.by_param[key]
        values = [str(v) for v in s.params[key]]
        traders = sorted({r["trader"] for r in rows})
        for j, trader in enumerate(traders):
            mine = {str(r["value"]): r for r in rows if r["trader"] == trader}
            xs = np.arange(len(values)) + (j - (len(traders) - 1) / 2) * 0.08
            ys = [mine[v]["mean"] if v in mine else np.nan for v in values]
            err = [mine[v]["high"] - mine[v]["mean"] if v in mine and math.isfinite(mine[v]["high"]) else 0.0
                   for v in values]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=trader)
        ax.set_xticks(range(len(values)), values)
        ax.set_xlabel(key)
        ax.set_ylabel(s.metric)
        ax.set_title(f"{s.metric} by {key} (95 % CI)")
    if keys:
        axes[0][0].legend(fontsize=8)
    ax = axes[0][-1]
    names = [r["trader"] for r in s.rank_table]
    means = [r["mean_rank"] for r in s.rank_table]
    sds = [r["sd_rank"] if math.isfinite(r["sd_rank"]) else 0.0 for r in s.rank_table]
    ax.barh(names, means, xerr=sds, capsize=3)
    ax.invert_yaxis()
    ax.set_xlabel("mean rank (1 = best) +- sd")
    ax.set_title(f"Rank stability, Kendall's W = {_fmt(s.kendall_w, '{:.2f}')}")
    fig.suptitle(f"{title}: {s.runs} runs")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
