"""The HTML report renders from a short real run and holds every section."""
from __future__ import annotations

import re

from floor_helpers import fast_config

from analysis.report import SECTIONS, build_report, write_report
from floor.session import FloorSession


def test_report_renders_from_a_real_run(tmp_path):
    session = FloorSession(tmp_path / "floor.db", fast_config())
    try:
        session.start(seed=3)
        session.run(15)
        html = build_report(session.floor.ledger, session.floor.instruments, title="test run")
        out = write_report(session.floor.ledger, tmp_path / "report.html")
    finally:
        session.close()
    for sec in SECTIONS:
        assert f'id="{sec}"' in html
    traders = [t.name for t in fast_config().traders]
    for name in traders:  # every trader appears in the leaderboard and the charts
        assert name in html
    assert "FLOR against its NAV" in html and "premium to NAV" in html
    assert html.count("plotly-graph-div") >= 4  # prices, ETF/NAV, PnL, drawdowns
    assert "https://cdn" not in html.split("<body>")[0]  # self-contained: plotly.js is inlined
    assert re.search(r"<td>(PASS|FAIL)</td>", html)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_command_writes_the_current_run(tmp_path):
    import typer
    from typer.testing import CliRunner

    from cli import analysis as cli_analytics

    db = tmp_path / "floor.db"
    session = FloorSession(db, fast_config())
    try:
        session.start(seed=4)
        session.run(4)
    finally:
        session.close()
    app = typer.Typer()
    cli_analytics.register(app)
    runner = CliRunner()
    result = runner.invoke(app, ["report", "--db", str(db), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="leaderboard"' in text and "run 1, branch" in text
    missing = runner.invoke(app, ["report", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 2
    # the form `report RUN` (positional), and the older `--run ID`
    for args, name in ((["1"], "p.html"), (["--run", "1"], "o.html")):
        result = runner.invoke(app, ["report", *args, "--db", str(db), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert "run 1, branch" in (tmp_path / name).read_text(encoding="utf-8")
    unknown = runner.invoke(app, ["report", "9", "--db", str(db), "--out", str(tmp_path / "x.html")])
    assert unknown.exit_code == 2 and "no run 9" in unknown.output
    clash = runner.invoke(app, ["report", "1", "--run", "2", "--db", str(db), "--out", str(tmp_path / "x.html")])
    assert clash.exit_code == 2 and not (tmp_path / "x.html").exists()
