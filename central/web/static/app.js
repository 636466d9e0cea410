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

async function poll() {
  try {
    // a poll is not the user's activity: it must not keep an unattended session alive
    const r = await fetch("/api/v1/live", { credentials: "same-origin", headers: { "X-Background": "1" } });
    if (!r.ok) return;
    const live = await r.json();
    document.querySelectorAll("[data-live-count]").forEach(el => { el.textContent = live.open_alerts; });
    document.querySelectorAll("[data-live-alerts]").forEach(el => { el.hidden = live.open_alerts === 0; });
    document.querySelectorAll("[data-live-online]").forEach(el => {
      el.textContent = live.devices_online + " / " + live.devices.length;
    });
    const rows = document.querySelectorAll("table[data-table=devices] tbody tr");
    const status = Object.fromEntries(live.devices.map(d => [d.device_id, d]));
    rows.forEach(tr => {
      const id = tr.querySelector("[data-key=device_id]");
      const st = tr.querySelector("[data-key=status_name]");
      const d = id && status[id.textContent.trim()];
      if (d && st) st.textContent = { online: "在线", offline: "离线" }[d.status] || "未知";
    });
  } catch (e) { /* offline for a moment: the next poll tries again */ }
}

document.addEventListener("DOMContentLoaded", () => {
  trend();
  bars();
  poll();
  setInterval(poll, 15000);
});
