// The floor's live dashboard in Chainlit's element sidebar. The server sends this element once per page;
// while it is open it fetches the newest props (chat_ui/dashboard.py builds them, chat_ui/dashboard_feed.py
// numbers them) about twice a second, and renders them as a transition React may interrupt for typing.
// Nothing is re-sent as a chat message or as an element: the sidebar stays as the person left it.
// Colours come from the page's theme (CSS variables), so it reads in dark and light mode alike.
import { startTransition, useEffect, useRef, useState } from "react";

const FG = "hsl(var(--foreground))";
const MUTED = "hsl(var(--muted-foreground))";
const BORDER = "hsl(var(--border))";
const UP = "#22c55e";
const DOWN = "#ef4444";
const PALETTE = ["#60a5fa", "#f59e0b", "#34d399", "#f472b6", "#a78bfa", "#f87171", "#22d3ee", "#facc15"];

const cell = { padding: "2px 6px", borderBottom: `1px solid ${BORDER}`, whiteSpace: "nowrap", textAlign: "right" };
const left = { ...cell, textAlign: "left" };
const head = { ...cell, color: MUTED, fontWeight: 500 };
const headLeft = { ...head, textAlign: "left" };

function Section({ title, children, extra }) {
  return (
    <section style={{ marginBottom: 14 }}>
      <div style={{ display: "flex", alignItems: "baseline", justifyContent: "space-between", gap: 8 }}>
        <h3 style={{ fontSize: 13, fontWeight: 600, color: FG, margin: "4px 0" }}>{title}</h3>
        {extra}
      </div>
      {children}
    </section>
  );
}

function Table({ cols, rows, rowKey }) {
  if (!rows || rows.length === 0) return <div style={{ color: MUTED, fontSize: 12 }}>none yet</div>;
  return (
    <div style={{ overflowX: "auto", maxWidth: "100%" }}>
      <table style={{ borderCollapse: "collapse", fontSize: 12, color: FG, fontVariantNumeric: "tabular-nums", width: "100%" }}>
        <thead>
          <tr>{cols.map((c, i) => <th key={c.key} style={i === 0 || c.left ? headLeft : head}>{c.label}</th>)}</tr>
        </thead>
        <tbody>
          {rows.map((r, j) => (
            <tr key={rowKey ? rowKey(r) : j}>
              {cols.map((c, i) => (
                <td key={c.key} style={{ ...(i === 0 || c.left ? left : cell), ...(c.color ? { color: c.color(r) } : {}) }}>
                  {r[c.key]}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ticks(lo, hi, n, integer) {
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  if (integer) step = Math.max(1, Math.round(step));
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(integer ? Math.round(v) : v);
  return out;
}

// A scenario's events on a price chart: a dashed vertical line at the event's cycle, the headline on hover
// (an SVG <title>: text, never markup).
function EventMarkers({ events, sx, x0, x1, top, bottom }) {
  return (events || []).filter((e) => e.cycle >= x0 && e.cycle <= x1).map((e) => (
    <g key={`ev${e.cycle}`} className="floor-event" data-cycle={e.cycle} data-kinds={e.kinds.join(" ")}>
      <title>{`cycle ${e.cycle}: ${e.headline}`}</title>
      <line x1={sx(e.cycle)} x2={sx(e.cycle)} y1={top} y2={bottom} stroke={DOWN} strokeWidth="1"
        strokeDasharray="2 2" />
      <line x1={sx(e.cycle)} x2={sx(e.cycle)} y1={top} y2={bottom} stroke="transparent" strokeWidth="8" />
      <circle cx={sx(e.cycle)} cy={top + 3} r="3" fill={DOWN} />
    </g>
  ));
}

function Chart({ series, height = 120, zero = false, events = null }) {
  const W = 340, H = height, L = 52, R = 8, T = 6, B = 18;
  const pts = series.flatMap((s) => s.points);
  if (pts.length === 0) return <div style={{ color: MUTED, fontSize: 12 }}>no data yet</div>;
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (zero) { y0 = Math.min(y0, 0); y1 = Math.max(y1, 0); }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const yt = ticks(y0, y1, 3, false);
  const step = yt.length > 1 ? Math.abs(yt[1] - yt[0]) : Math.abs(y1 - y0) || 1;
  // labels as precise as the tick step needs: never "166, 166, 166"
  const money = (v) => {
    if (Math.abs(v) < 1e-9) return "0";
    if (Math.abs(v) >= 1000 && step >= 100) return `${(v / 1000).toFixed(step >= 1000 ? 0 : 1)}k`;
    return v.toFixed(step >= 1 ? 0 : step >= 0.1 ? 1 : 2);
  };
  return (
    <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img" style={{ display: "block" }}>
      {yt.map((v) => (
        <g key={`y${v}`}>
          <line x1={L} x2={W - R} y1={sy(v)} y2={sy(v)} stroke={BORDER} strokeWidth="0.5" />
          <text x={L - 4} y={sy(v) + 3} fontSize="9" fill={MUTED} textAnchor="end">{money(v)}</text>
        </g>
      ))}
      {ticks(x0, x1, 5, true).map((v) => (
        <text key={`x${v}`} x={sx(v)} y={H - 5} fontSize="9" fill={MUTED} textAnchor="middle">{v}</text>
      ))}
      {series.map((s, i) => (
        <polyline key={s.name} fill="none" stroke={s.color || PALETTE[i % PALETTE.length]} strokeWidth="1.5"
          strokeDasharray={s.dash ? "4 3" : undefined}
          points={s.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ")} />
      ))}
      <EventMarkers events={events} sx={sx} x0={x0} x1={x1} top={T} bottom={H - B} />
    </svg>
  );
}

function Legend({ items }) {
  return (
    <div style={{ display: "flex", flexWrap: "wrap", gap: "2px 10px", fontSize: 11, color: MUTED }}>
      {items.map((s, i) => (
        <span key={s.name}>
          <span style={{ color: s.color || PALETTE[i % PALETTE.length] }}>{s.dash ? "┄" : "━"}</span> {s.name}
        </span>
      ))}
    </div>
  );
}

const signColor = (r) => (r.sign > 0 ? UP : r.sign < 0 ? DOWN : MUTED);

// Chainlit evaluates this file again whenever the element is (re-)sent: once per page, and when the person
// asks (`/status`). The component must stay the same function across evaluations, or React would rebuild
// the whole panel (losing the tape toggle, detaching a button under the pointer): the first evaluation keeps
// it in `store`, later ones only hand over their props, which are then the newest.
const store = window.__floorDashboard || (window.__floorDashboard = {});
store.props = props;
store.sent = (store.sent || 0) + 1;
store.callAction = callAction;
store.endpoint = apiClient.buildEndpoint("/floor/dashboard");
const POLL_MS = 500;

// The newest props: those fetched from the feed after the element was last sent, else the element's own.
function useFeed() {
  const [fetched, setFetched] = useState(null);
  const shownRef = useRef(null);
  const shown = fetched && fetched.sent === store.sent ? fetched.props : store.props || {};
  shownRef.current = shown;
  useEffect(() => {
    let alive = true;
    let timer = null;
    const poll = async () => {
      if (!document.hidden) {
        try {
          const known = shownRef.current.version;
          const res = await fetch(`${store.endpoint}?after=${known == null ? -1 : known}`,
            { credentials: "include", cache: "no-store" });
          if (alive && res.status === 200) {
            const next = await res.json();
            const sent = store.sent;
            if (alive) startTransition(() => setFetched({ props: next, sent }));
          }
        } catch (e) {
          // offline or the server restarting: try again at the next tick
        }
      }
      if (alive) timer = setTimeout(poll, POLL_MS);
    };
    poll();
    return () => { alive = false; clearTimeout(timer); };
  }, []);
  return shown;
}

function DashboardView() {
  const p = useFeed();
  const [background, setBackground] = useState(false);
  const toggle = () => setBackground(!background);
  const tape = (p.tape || []).filter((f) => background || f.floor);
  const running = (p.status || "").startsWith("running");
  return (
    <div id="floor-dashboard" style={{ color: FG, fontSize: 12, minWidth: 0, contain: "content" }}>
      <div style={{ display: "flex", flexWrap: "wrap", gap: 8, alignItems: "center", marginBottom: 8 }}>
        <strong id="dashboard-cycle" style={{ fontSize: 14 }}>Cycle {p.cycle}</strong>
        <span style={{ color: MUTED }}>{p.thread}{p.branch != null ? ` / branch ${p.branch}` : ""}</span>
        <span id="dashboard-status" style={{ color: running ? UP : MUTED }}>{p.status}</span>
        {running ? (
          <span style={{ marginLeft: "auto", display: "flex", gap: 6 }}>
            <button id="dashboard-pause" onClick={() => store.callAction({ name: "pause", payload: {} })}
              style={{ border: `1px solid ${BORDER}`, borderRadius: 6, padding: "1px 8px", color: FG }}>Pause</button>
            <button id="dashboard-stop" onClick={() => store.callAction({ name: "stop", payload: {} })}
              style={{ border: `1px solid ${BORDER}`, borderRadius: 6, padding: "1px 8px", color: FG }}>Stop</button>
          </span>
        ) : null}
      </div>
      <Section title="Leaderboard">
        <Table rowKey={(r) => r.trader} rows={p.leaderboard} cols={[
          { key: "rank", label: "#" }, { key: "trader", label: "trader", left: true }, { key: "value", label: "value" },
          { key: "pnl", label: "PnL", color: signColor }, { key: "ret", label: "return", color: signColor },
          { key: "realized", label: "realized" }, { key: "unrealized", label: "unrealized" }]} />
      </Section>
      <Section title="PnL per trader">
        <Chart zero series={(p.pnl || []).map((s) => ({ name: s.name, points: s.points }))} />
        <Legend items={(p.pnl || []).map((s) => ({ name: s.name }))} />
      </Section>
      <Section title="Positions">
        <Table rows={p.positions} rowKey={(r) => `${r.trader}-${r.symbol}`} cols={[
          { key: "trader", label: "trader" }, { key: "symbol", label: "symbol", left: true },
          { key: "shares", label: "shares" }, { key: "cost", label: "cost basis" }, { key: "mark", label: "mark" },
          { key: "upnl", label: "unrealized", color: signColor }]} />
      </Section>
      <Section title="Cash">
        <Table rows={p.cash} rowKey={(r) => r.trader} cols={[
          { key: "trader", label: "trader" }, { key: "cash", label: "cash" }, { key: "available", label: "available" }]} />
      </Section>
      <Section title="Prices">
        {(p.prices || []).map((s) => {
          const lines = [{ name: `${s.symbol} price`, points: s.series, color: PALETTE[0] }];
          if (s.nav) lines.push({ name: `${s.symbol} NAV`, points: s.nav, color: PALETTE[1], dash: true });
          return (
            <div key={s.symbol} className="floor-price" data-symbol={s.symbol} style={{ marginBottom: 6 }}>
              <div style={{ color: MUTED }}>
                <strong style={{ color: FG }}>{s.symbol}</strong> {s.last}
                {s.nav ? ` · vs NAV ${s.premium || ""}` : ""}
              </div>
              <Chart series={lines} height={s.nav ? 110 : 80} events={s.events} />
              {s.nav ? <Legend items={lines} /> : null}
            </div>
          );
        })}
      </Section>
      <Section title="Tape" extra={
        <label style={{ color: MUTED, fontSize: 11, display: "flex", gap: 4, alignItems: "center" }}>
          <input id="tape-background" type="checkbox" checked={background} onChange={toggle} /> background traffic
        </label>}>
        <Table rows={tape} rowKey={(r) => r.id} cols={[
          { key: "cycle", label: "cycle" }, { key: "symbol", label: "symbol", left: true }, { key: "qty", label: "qty" },
          { key: "price", label: "price" }, { key: "buyer", label: "buyer", left: true },
          { key: "seller", label: "seller", left: true }]} />
      </Section>
    </div>
  );
}

if (!store.View) store.View = DashboardView;
export default store.View;
