// counterside dashboard: charts (uPlot, vendored) and live alert/device status (polling).
"use strict";

function json(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : null;
}

function pct(v) { return v == null ? "-" : (v * 100).toFixed(1) + "%"; }

function width(el) { return Math.max(280, el.clientWidth || 600); }

function trend() {
  const data = json("trend-data");
  const el = document.getElementById("trend");
  if (!data || !el || !window.uPlot) return;
  const xs = data.day.map((_, i) => i);
  const label = i => Number.isInteger(i) && data.day[i] ? data.day[i].slice(5) : "";
  const opts = {
    width: width(el), height: 260,
    scales: { x: { time: false, range: [-0.3, Math.max(xs.length - 0.7, 0.7)] }, y: { range: [0, 1] } },
    series: [
      { label: "日期", value: (u, v) => v == null ? "-" : data.day[v] },
      { label: "满意率", stroke: "#0b5cad", width: 2, value: (u, v) => pct(v),
        points: { size: 7 } },
      { label: "评价率", stroke: "#e08a00", width: 2, value: (u, v) => pct(v),
        points: { size: 7 } },
    ],
    axes: [
      { values: (u, vs) => vs.map(label), incrs: [1, 2, 7, 14, 30] },
      { values: (u, vs) => vs.map(v => (v * 100).toFixed(0) + "%") },
    ],
  };
  const plot = new uPlot(opts, [xs, data.satisfaction, data.evaluation], el);
  plot.over.style.cursor = "pointer";
  plot.over.addEventListener("click", () => {  // the day under the cursor: its transactions
    const i = plot.cursor.idx;
    if (i != null && data.link && data.link[i]) window.location.href = data.link[i];
  });
}

function bars() {
  const data = json("bars-data");
  const el = document.getElementById("bars");
  if (!data || !el || !window.uPlot || !data.labels.length) return;
  const xs = data.labels.map((_, i) => i);
  const opts = {
    width: width(el), height: 260,
    scales: { x: { time: false, range: [-0.5, xs.length - 0.5] }, y: { range: [0, 1] } },
    series: [
      { label: "等候", value: (u, v) => v == null ? "-" : (data.labels[v] || "") },
      { label: "满意率（按等候时长）", stroke: "#0b5cad", fill: "rgba(11,92,173,0.35)",
        paths: uPlot.paths.bars({ size: [0.6, 80] }), value: (u, v) => pct(v) },
    ],
    axes: [
      { values: (u, vs) => vs.map(v => Number.isInteger(v) ? (data.labels[v] || "") : ""), incrs: [1] },
      { values: (u, vs) => vs.map(v => (v * 100).toFixed(0) + "%") },
    ],
  };
  new uPlot(opts, [xs, data.rate], el);
}

// a poll is not the user's activity: it must not keep an unattended session alive
const BACKGROUND = { credentials: "same-origin", headers: { "X-Background": "1" } };
const shownState = {};  // per table kind, what the last poll said (and the table shows)
let polling = false;

async function refreshTable(kind) {
  // the page's own table of that kind, taken again from the server (new rows, acks, status)
  const table = document.querySelector(`table[data-table=${kind}]`);
  const mine = table && table.closest("section.table");
  if (!mine) return true;
  const r = await fetch(location.href, BACKGROUND);
  if (!r.ok) return false;
  const fresh = new DOMParser().parseFromString(await r.text(), "text/html");
  const theirs = fresh.querySelector(`table[data-table=${kind}]`);
  if (!theirs) return false;
  const section = theirs.closest("section.table");
  const left = mine.querySelector(".scroll")?.scrollLeft || 0;
  mine.replaceWith(section);
  const scroll = section.querySelector(".scroll");
  if (scroll) scroll.scrollLeft = left;  // a phone's sideways scroll stays where it was
  return true;
}

function showLastSeen(live) {
  // a device's last report changes with every batch: written in place, no table fetched
  const seen = Object.fromEntries(live.devices.map(d => [d.device_id, d.last_seen]));
  document.querySelectorAll("table[data-table=devices] tbody tr").forEach(tr => {
    const id = tr.querySelector("[data-key=device_id]");
    const cell = tr.querySelector("[data-key=last_seen]");
    const at = id && seen[id.textContent.trim()];
    if (cell && at) cell.textContent = String(at).slice(0, 16).replace("T", " ");
  });
}

async function poll() {
  if (polling) return;  // a slow answer: the next poll waits for it, none overtakes it
  polling = true;
  try {
    const r = await fetch("/api/v1/live", BACKGROUND);
    if (!r.ok) return;
    const live = await r.json();
    document.querySelectorAll("[data-live-count]").forEach(el => { el.textContent = live.open_alerts; });
    document.querySelectorAll("[data-live-alerts]").forEach(el => { el.hidden = live.open_alerts === 0; });
    document.querySelectorAll("[data-live-online]").forEach(el => {
      el.textContent = live.devices_online + " / " + live.devices.length;
    });
    showLastSeen(live);
    const states = {
      alerts: JSON.stringify([live.open_alerts, live.alerts.map(a => a.id)]),
      devices: JSON.stringify(live.devices.map(d => [d.device_id, d.status, d.status_at])),
    };
    for (const [kind, state] of Object.entries(states)) {
      const changed = kind in shownState && shownState[kind] !== state;
      if (!changed || await refreshTable(kind)) shownState[kind] = state;  // else: next poll
    }
  } catch (e) { /* offline for a moment: the next poll tries again */ }
  finally { polling = false; }
}

document.addEventListener("DOMContentLoaded", () => {
  trend();
  bars();
  poll();
  setInterval(poll, Number(document.body.dataset.pollMs) || 15000);
});
