// The store page: renders /api/store once (reload the page to refresh).
"use strict";

function cellClass(c) {
  if (!c) return "none";
  if (c.missing === 0) return c.stored > 0 ? "full" : "nodata";
  return c.missing === c.sessions ? "empty" : "partial";
}

function render(d) {
  setText("store-path", `${d.store} · ${d.interval}`);
  const runs = document.querySelector("#runs tbody");
  runs.replaceChildren(
    ...d.runs.map((r) => {
      if (r.error) {
        return el("tr", { "data-run": r.id }, el("td", { text: r.id }), el("td", { colspan: 9, class: "err", text: "unreadable: " + r.error }));
      }
      const t = r.totals || {};
      return el("tr", { "data-run": r.id },
        el("td", { text: String(r.started ?? r.id).replace("T", " ").slice(0, 19) }),
        el("td", { text: r.interval ?? "" }),
        el("td", { class: "num", text: fmtInt(t.tickers) }),
        el("td", { class: "num", text: fmtInt(t.saved) }),
        el("td", { class: "num", text: fmtInt(t.up_to_date) }),
        el("td", { class: "num" + (t.not_found ? " bad" : ""), text: fmtInt(t.not_found) }),
        el("td", { class: "num" + (t.failed ? " bad" : ""), text: fmtInt(t.failed) }),
        el("td", { class: "num", text: fmtInt(t.rows) }),
        el("td", { class: "num", text: fmtInt(t.requests) }),
        el("td", { class: "num", text: fmtSecs(t.elapsed_secs) }));
    })
  );
  if (d.runs.length === 0) runs.append(el("tr", {}, el("td", { colspan: 10, text: "no run recorded yet" })));

  const missing = d.coverage.reduce((n, t) => n + t.missing, 0);
  setText("cov-sub", `(${d.coverage.length} ticker(s), ${fmtInt(missing)} missing session(s))`);
  const head = document.querySelector("#coverage thead");
  head.replaceChildren(el("tr", {}, el("th", { text: "ticker" }), el("th", { class: "num", text: "missing" }),
    ...d.months.map((m) => el("th", { class: "month", text: m.slice(2) }))));
  const body = document.querySelector("#coverage tbody");
  body.replaceChildren(
    ...d.coverage.map((t) => {
      const tr = el("tr", { "data-symbol": t.symbol, "data-missing": t.missing, "data-sessions": t.sessions },
        el("td", { class: "sym", text: t.symbol, title: `${t.exchange} · ${t.rows} rows · ${t.stored}/${t.sessions} stored, ${t.no_data} no data` }),
        el("td", { class: "num" + (t.missing ? " bad" : ""), text: t.error ? "error" : fmtInt(t.missing) }));
      if (t.error) {
        tr.append(el("td", { colspan: d.months.length, class: "err", text: t.error }));
        return tr;
      }
      for (const m of d.months) {
        const c = t.months[m];
        const text = !c ? "" : c.missing > 0 ? String(c.missing) : c.stored > 0 ? "✓" : "∅";
        const title = !c ? `${m}: outside the window`
          : `${m}: ${c.stored}/${c.sessions} stored, ${c.no_data} no data, ${c.missing} missing` +
            (c.missing_dates.length ? "\nmissing: " + c.missing_dates.join(", ") : "");
        tr.append(el("td", { class: "cell " + cellClass(c), title, "data-month": m, text }));
      }
      return tr;
    })
  );

  const last = d.runs.find((r) => !r.error);
  const failures = document.querySelector("#failures tbody");
  failures.replaceChildren(
    ...(last ? last.failures : []).map((f) =>
      el("tr", { "data-symbol": f.symbol }, el("td", { class: "sym", text: f.symbol }),
        el("td", {}, el("span", { class: "pill " + f.status, text: f.status.replace(/_/g, " ") })),
        el("td", { class: "err wrap", text: f.error ?? "" })))
  );
  if (!last || last.failures.length === 0) failures.append(el("tr", {}, el("td", { colspan: 3, text: "none" })));

  const flagged = document.querySelector("#flagged tbody");
  flagged.replaceChildren(
    ...d.flagged.slice(0, 500).map((f) =>
      el("tr", {}, el("td", { class: "sym", text: f.symbol }), el("td", { text: f.date }),
        el("td", { text: f.rule }), el("td", { text: f.dropped ? "dropped" : "kept as sent" })))
  );
  if (d.flagged.length === 0) flagged.append(el("tr", {}, el("td", { colspan: 4, text: "none" })));

  const problems = document.getElementById("problems");
  problems.replaceChildren(...d.problems.map((p) => el("li", {}, el("code", { text: p.path }), ": " + p.reason)));
  if (d.problems.length === 0) problems.append(el("li", { text: "none" }));
}

fetch("/api/store", { credentials: "same-origin" })
  .then((r) => (r.ok ? r.json() : r.text().then((t) => Promise.reject(new Error(t)))))
  .then(render)
  .catch((e) => {
    document.querySelector("main").prepend(el("p", { class: "err", text: "cannot load the store: " + e.message }));
  });
