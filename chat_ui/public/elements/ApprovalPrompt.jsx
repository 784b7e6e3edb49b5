// The orders waiting for a person's approval, highlighted, scrolled into view when they arrive.
// The answer buttons are the message's own actions (below); once answered, the server sets `answer`.
import { useEffect, useRef } from "react";

export default function ApprovalPrompt() {
  const ref = useRef(null);
  const p = props || {};
  useEffect(() => {
    if (!p.answer && ref.current) ref.current.scrollIntoView({ behavior: "smooth", block: "center" });
  }, [p.answer]);
  const waiting = !p.answer;
  return (
    <div ref={ref} id={waiting ? "approval-waiting" : undefined} className={waiting ? "floor-approval-waiting" : ""}
      style={{
        border: `2px solid ${waiting ? "#f59e0b" : "hsl(var(--border))"}`, borderRadius: 8, padding: "8px 12px",
        background: waiting ? "rgba(245, 158, 11, 0.10)" : "transparent", color: "hsl(var(--foreground))",
        fontSize: 13,
      }}>
      <div style={{ fontWeight: 600, marginBottom: 4 }}>
        {waiting ? `Cycle ${p.cycle}: approve these orders?` : `Cycle ${p.cycle}: ${p.answer}`}
      </div>
      <div className="approval-orders">
        {(p.orders || []).map((o, i) => <div key={i}>{`${i + 1}. ${o}`}</div>)}
      </div>
      {waiting && p.remaining ? (
        <div style={{ color: "hsl(var(--muted-foreground))", marginTop: 4 }}>
          After your answer the run goes on: {p.remaining} more cycle(s) of this /run.
        </div>
      ) : null}
    </div>
  );
}
