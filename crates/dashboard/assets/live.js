// The live page: renders each state the server pushes on /events (and /api/run once at load).
"use strict";

const STATE_ORDER = ["fetching", "retrying", "queued", "failed", "interrupted", "not_found", "saved", "up_to_date"];
const CLASSES = ["ok", "throttled", "transient", "other"];
const COLORS = { ok: "#2e7d32", throttled: "#ef6c00", transient: "#c62828", other: "#6a1b9a" };
const rows = new Map();

function render(s) {
  const t = s.totals;
  const status = document.getElementById("run-status");
  const label = s.finished ? (s.interrupted ? "interrupted" : "finished") : "running";
  status.textContent = label;
  status.dataset.status = label;
  status.className = "badge " + label;
  setText("t-done", fmtInt(t.done));
  setText("t-tickers", fmtInt(Math.max(t.tickers, s.tickers.length)));
  setText("t-elapsed", fmtSecs(s.elapsed_secs));
  setText("t-eta", s.finished ? "done" : fmtSecs(s.eta_secs));
  setText("t-rows", fmtInt(t.rows));
  setText("t-requests", fmtInt(t.requests));
  setText("t-planned", fmtInt(t.planned_requests));
  setText("t-retries", fmtInt(t.retries));
  setText("t-throttled", fmtInt(t.throttled));
  setText("t-inflight", fmtInt(t.in_flight));
  setText("t-cap", s.limits.in_flight_cap ?? "–");
  setText("t-rate", s.limits.rate === null ? "no limit" : s.limits.rate.toFixed(2) + " req/s");
  setText("t-bytes", fmtBytes(t.bytes));
  renderStates(s.states);
  renderChart(s.series);
  renderTickers(s.tickers);
}

function renderStates(states) {
  const box = document.getElementById("states");
  box.replaceChildren(
    ...STATE_ORDER.map((k) =>
      el("span", { class: "pill " + k, "data-state": k }, `${k.replace(/_/g, " ")} `, el("b", { text: fmtInt(states[k]) }))
    )
  );
}

function renderTickers(list) {
  const body = document.querySelector("#tickers tbody");
  const sorted = [...list].sort(
    (a, b) => STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state) || a.symbol.localeCompare(b.symbol)
  );
  const seen = new Set();
  sorted.forEach((t, i) => {
    seen.add(t.symbol);
    let tr = rows.get(t.symbol);
    if (!tr) {
      tr = el("tr", { "data-symbol": t.symbol },
        el("td", { class: "sym", text: t.symbol }), el("td"), el("td", { class: "num" }),
        el("td", { class: "num" }), el("td", { class: "num" }), el("td", { class: "err" }));
      rows.set(t.symbol, tr);
    }
    tr.dataset.state = t.state;
    const c = tr.children;
    if (c[1].textContent !== t.state) {
      c[1].replaceChildren(el("span", { class: "pill " + t.state, text: t.state.replace(/_/g, " ") }));
    }
    setCell(c[2], fmtInt(t.rows));
    setCell(c[3], fmtInt(t.requests));
    setCell(c[4], fmtInt(t.retries));
    setCell(c[5], t.last_error ?? "");
    c[5].title = t.last_error ?? "";
    if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
  });
  for (const [sym, tr] of rows) {
    if (!seen.has(sym)) {
      tr.remove();
      rows.delete(sym);
    }
  }
}

function setCell(td, text) {
  if (td.textContent !== text) td.textContent = text;
}

function renderChart(series) {
  const canvas = document.getElementById("chart");
  const width = canvas.clientWidth || 300;
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(160 * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const h = 160;
  ctx.clearRect(0, 0, width, h);
  const secs = Math.max(30, Math.min(series.counts.length, Math.floor(width / 4)));
  const data = series.counts.slice(-secs);
  const max = Math.max(1, ...data.map((c) => c[0] + c[1] + c[2] + c[3]));
  const barW = width / secs;
  const top = 14;
  ctx.fillStyle = "#888";
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText(`${max}/s`, 2, 11);
  ctx.fillText(`last ${secs}s`, width - 60, 11);
  data.forEach((c, i) => {
    let y = h;
    const x = (secs - data.length + i) * barW;
    CLASSES.forEach((k, j) => {
      const bh = (c[j] / max) * (h - top);
      if (bh > 0) {
        ctx.fillStyle = COLORS[k];
        ctx.fillRect(x, y - bh, Math.max(1, barW - 1), bh);
        y -= bh;
      }
    });
  });
}

function connect() {
  const es = new EventSource("/events");
  es.addEventListener("run", (e) => {
    const s = JSON.parse(e.data);
    render(s);
    if (s.finished) es.close();
  });
  es.onerror = () => {
    const status = document.getElementById("run-status");
    if (status.dataset.status === "running" || status.dataset.status === "connecting") {
      status.textContent = "disconnected";
      status.dataset.status = "disconnected";
      status.className = "badge disconnected";
    }
  };
}

fetch("/api/run", { credentials: "same-origin" })
  .then((r) => (r.ok ? r.json() : null))
  .then((s) => {
    if (s) render(s);
    if (!s || !s.finished) connect();
  })
  .catch(connect);
