"""`trading-floor demo`: run the background market offline and print a per-symbol summary.

This is `make run` until the cycle graph exists. It builds an Exchange with a seeded BackgroundMarket,
runs N cycles (advance `ticks_per_cycle`, then end the cycle), shows a Rich progress bar, and prints per
symbol: open/high/low/close over the run, volume, trade count, the closing spread, the last price against
the fundamental, and the ETF against the NAV of its components' last prices.
"""
from __future__ import annotations

import pickle
import time
from typing import TYPE_CHECKING

import typer

from cli.errors import SEED_MAX

if TYPE_CHECKING:  # Rich and the market are imported when the demo runs (start-up time of the CLI)
    from rich.console import Console


def _dollars(cents: float | int | None) -> str:
    return "-" if cents is None else f"{cents / 100:.2f}"


def _bps(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{(a / b - 1.0) * 1e4:+.1f}"


def run_demo(cycles: int, seed: int, console: Console, *, progress: bool = True) -> dict:
    """Run the demo and return the summary numbers (also used by tests)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from market.background import BackgroundConfig, BackgroundMarket
    from market.events import TradeExecuted
    from market.exchange import Exchange  # the order-book engine
    from market.instruments import InstrumentKind

    background = BackgroundMarket(BackgroundConfig(), seed=seed)
    exchange = Exchange(background=background)
    trades = {sym: 0 for sym in exchange.instruments}
    start = time.perf_counter()
    with Progress(
        TextColumn("[bold]background market"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("cycles"),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
        transient=True,
    ) as bar:
        task = bar.add_task("cycles", total=cycles)
        for _ in range(cycles):
            for event in exchange.advance(background.ticks_per_cycle):
                if type(event) is TradeExecuted:
                    trades[event.symbol] += 1
            exchange.end_cycle()
            bar.advance(task)
    elapsed = time.perf_counter() - start
    fair = background.fair_values()
    rows = {}
    for sym, inst in exchange.instruments.items():
        bars = [b for b in exchange.bars(sym) if b is not None]
        bid, ask = exchange.best_bid(sym), exchange.best_ask(sym)
        rows[sym] = {
            "open": bars[0].open if bars else None,
            "high": max(b.high for b in bars) if bars else None,
            "low": min(b.low for b in bars) if bars else None,
            "close": bars[-1].close if bars else None,
            "volume": sum(b.volume for b in bars),
            "trades": trades[sym],
            "spread": None if bid is None or ask is None else ask - bid,
            "last": exchange.last_price(sym),
            "fundamental": fair[sym],
            "kind": inst.kind,
        }
    etfs = {}
    for sym, inst in exchange.instruments.items():
        if inst.kind is InstrumentKind.ETF:
            lasts = {c: exchange.last_price(c) for c, _ in inst.basket}
            nav = inst.nav(lasts) if all(v is not None for v in lasts.values()) else None
            etfs[sym] = {"last": exchange.last_price(sym), "market_nav": nav, "fair_nav": fair[sym]}
    stats = background.stats()
    return {
        "rows": rows,
        "etfs": etfs,
        "elapsed": elapsed,
        "cycles": cycles,
        "stats": stats,
        "background_bytes": len(pickle.dumps(background, protocol=pickle.HIGHEST_PROTOCOL)),
        "snapshot_bytes": len(exchange.snapshot()),
    }


def _count(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)


def print_summary(summary: dict, console: Console) -> None:
    from rich import box
    from rich.table import Table

    from market.instruments import InstrumentKind

    table = Table(
        title=f"Background market after {summary['cycles']} cycles (prices in $)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="spread: closing best ask - best bid in cents; Δfair: last price against the fundamental in bp",
    )
    for col in ("symbol", "open", "high", "low", "close", "volume", "trades", "spread", "fair", "Δfair"):
        table.add_column(col, justify="left" if col == "symbol" else "right", no_wrap=True)
    for sym, r in summary["rows"].items():
        table.add_row(
            sym + ("*" if r["kind"] is InstrumentKind.ETF else ""),
            _dollars(r["open"]),
            _dollars(r["high"]),
            _dollars(r["low"]),
            _dollars(r["close"]),
            _count(r["volume"]),
            _count(r["trades"]),
            "-" if r["spread"] is None else f"{r['spread']}c",
            _dollars(r["fundamental"]),
            _bps(r["last"], r["fundamental"]),
        )
    console.print(table)
    for sym, e in summary["etfs"].items():
        console.print(
            f"{sym}* (ETF): last {_dollars(e['last'])}, NAV of components' last prices {_dollars(e['market_nav'])} "
            f"({_bps(e['last'], e['market_nav'])} bp), fair NAV {_dollars(e['fair_nav'])}"
        )
    st = summary["stats"]
    total_trades = sum(r["trades"] for r in summary["rows"].values())
    console.print(
        f"{total_trades:,} trades, {st['orders']:,} background orders and {st['mm_cancels']:,} cancels in "
        f"{summary['elapsed']:.2f}s ({st['orders'] / max(summary['elapsed'], 1e-9):,.0f} orders/s); "
        f"background state {summary['background_bytes']:,} bytes, exchange snapshot {summary['snapshot_bytes']:,} bytes."
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        cycles: int = typer.Option(200, "--cycles", min=1, help="Number of cycles to run."),
        seed: int = typer.Option(7, "--seed", min=0, max=SEED_MAX, help="Master seed of the background market."),
    ) -> None:
        """Run the seeded background market offline and print a per-symbol summary."""
        from rich.console import Console

        console = Console()
        print_summary(run_demo(cycles, seed, console), console)
