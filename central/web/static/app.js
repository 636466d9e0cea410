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
let lastState = null;  // what the last poll said of the alerts and devices

async function refreshTables() {
  // the page's own alert and device tables, taken again from the server: new rows, acks, times
  const tables = document.querySelectorAll("table[data-table=alerts], table[data-table=devices]");
  if (tables.length === 0) return;
  const r = await fetch(location.href, BACKGROUND);
  if (!r.ok) return;
  const fresh = new DOMParser().parseFromString(await r.text(), "text/html");
  tables.forEach(table => {
    const mine = table.closest("section.table");
    const theirs = fresh.querySelector(`table[data-table=${table.dataset.table}]`);
    if (mine && theirs) mine.replaceWith(theirs.closest("section.table"));
  });
}

async function poll() {
  try {
    const r = await fetch("/api/v1/live", BACKGROUND);
    if (!r.ok) return;
    const live = await r.json();
    document.querySelectorAll("[data-live-count]").forEach(el => { el.textContent = live.open_alerts; });
    document.querySelectorAll("[data-live-alerts]").forEach(el => { el.hidden = live.open_alerts === 0; });
    document.querySelectorAll("[data-live-online]").forEach(el => {
      el.textContent = live.devices_online + " / " + live.devices.length;
    });
    const state = JSON.stringify([live.open_alerts, live.alerts.map(a => a.id), live.devices]);
    if (lastState !== null && state !== lastState) await refreshTables();
    lastState = state;
  } catch (e) { /* offline for a moment: the next poll tries again */ }
}

document.addEventListener("DOMContentLoaded", () => {
  trend();
  bars();
  poll();
  setInterval(poll, Number(document.body.dataset.pollMs) || 15000);
});
