// The live dashboard page: renders /api/stream snapshots (server-sent events) as tables and
// hand-drawn SVG charts. No library, no build step; all data goes in through textContent.
"use strict";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
const SVG_NS = "http://www.w3.org/2000/svg";
const CHARTS = [
  { field: "interactions", title: "Volume (interactions per window)", format: "count", min: 0 },
  { field: "completion_rate", title: "Completion rate", format: "rate", min: 0, max: 1 },
  { field: "abandonment_rate", title: "Abandonment rate", format: "rate", min: 0, max: 1 },
  { field: "thumbs_up_rate", title: "Thumbs-up rate", format: "rate", min: 0, max: 1 },
  { field: "mean_rating", title: "Mean rating (1-5)", format: "rating", min: 1, max: 5 },
  { field: "correction_rate", title: "Correction rate", format: "rate", min: 0 },
  { field: "latency_p95_ms", title: "Latency p95 (ms)", format: "ms", min: 0 },
];
const COLUMNS = [
  ["interactions", "count"], ["sessions", "count"], ["completion_rate", "rate"],
  ["abandonment_rate", "rate"], ["thumbs_up_rate", "rate"], ["mean_rating", "rating"],
  ["correction_rate", "rate"], ["latency_p95_ms", "ms"],
];

const numberFormat = new Intl.NumberFormat("en-US");

function format(value, kind) {
  if (value === null || value === undefined) return "–";
  switch (kind) {
    case "count": return numberFormat.format(value);
    case "rate": return (value * 100).toFixed(1) + "%";
    case "rating": return value.toFixed(2);
    case "ms": return numberFormat.format(Math.round(value)) + " ms";
    default: return String(value);
  }
}

function timeOfDay(ms) {
  return new Date(ms).toISOString().slice(11, 16);
}

function element(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

function replaceRows(tbody, rows, emptyText, columns) {
  tbody.replaceChildren(...(rows.length ? rows : [emptyRow(emptyText, columns)]));
}

function emptyRow(text, columns) {
  const row = element("tr", { class: "empty" });
  row.appendChild(element("td", { colspan: String(columns) }, text));
  return row;
}

function colorOf(index) {
  return PALETTE[index % PALETTE.length];
}

function renderAgents(agents) {
  const rows = agents.map((agent, index) => {
    const row = element("tr", { "data-agent": agent.agent_id, "data-version": agent.agent_version });
    const name = element("td", { "data-field": "agent_id" });
    name.appendChild(element("span", { class: "swatch", style: "background:" + colorOf(index) }));
    name.appendChild(document.createTextNode(agent.agent_id));
    row.appendChild(name);
    row.appendChild(element("td", { "data-field": "agent_version" }, agent.agent_version));
    for (const [field, kind] of COLUMNS) {
      const value = agent.summary[field];
      const attrs = { class: "num", "data-field": field, "data-value": value === null ? "" : String(value) };
      row.appendChild(element("td", attrs, format(value, kind)));
    }
    const windows = agent.summary.final_windows + " / " + agent.summary.windows;
    row.appendChild(element("td", { class: "num", "data-field": "windows" }, windows));
    return row;
  });
  replaceRows(document.getElementById("agents-body"), rows, "waiting for metrics…", 11);
}

function renderLegend(agents) {
  const items = agents.map((agent, index) => {
    const item = element("span");
    item.appendChild(element("span", { class: "swatch", style: "background:" + colorOf(index) }));
    item.appendChild(document.createTextNode(agent.agent_id + " " + agent.agent_version));
    return item;
  });
  document.getElementById("legend").replaceChildren(...items);
}

// The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k) at or above `value`.
function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= value * (1 - 1e-9)) return step * power;
  return 10 * power;
}

function tickLabel(value, kind) {
  if (kind === "rate") return +(value * 100).toFixed(1) + "%";
  if (kind === "rating") return value.toFixed(1);
  return numberFormat.format(+value.toPrecision(3));
}

function renderChart(spec, agents, range) {
  const width = 340, height = 150, left = 44, right = 8, top = 8, bottom = 18;
  const values = [];
  for (const agent of agents) for (const p of agent.series) if (p[spec.field] !== null) values.push(p[spec.field]);
  let low = spec.min, high = spec.max;
  if (high === undefined) high = niceCeiling(Math.max(0, ...values) * 1.05);
  if (values.length && spec.max !== undefined) high = Math.max(high, ...values);
  const x = (ms) => left + ((ms - range[0]) / Math.max(1, range[1] - range[0])) * (width - left - right);
  const y = (v) => height - bottom - ((v - low) / Math.max(1e-9, high - low)) * (height - top - bottom);

  const box = element("div", { class: "chart", "data-chart": spec.field });
  box.appendChild(element("h3", {}, spec.title));
  const plot = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img" });
  plot.appendChild(svg("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }));
  for (const v of [low, (low + high) / 2, high]) {
    plot.appendChild(svg("line", { class: "axis", x1: left, x2: width - right, y1: y(v), y2: y(v), "stroke-dasharray": "2 3" }));
    const label = svg("text", { class: "tick", x: left - 4, y: y(v) + 3, "text-anchor": "end" });
    label.textContent = tickLabel(v, spec.format);
    plot.appendChild(label);
  }
  for (const fraction of [0, 0.5, 1]) {
    const ms = range[0] + fraction * (range[1] - range[0]);
    const anchor = fraction === 0 ? "start" : fraction === 1 ? "end" : "middle";
    const label = svg("text", { class: "tick", x: x(ms), y: height - 4, "text-anchor": anchor });
    label.textContent = timeOfDay(ms);
    plot.appendChild(label);
  }
  agents.forEach((agent, index) => {
    const color = colorOf(index);
    const points = agent.series.filter((p) => p[spec.field] !== null);
    if (!points.length) return;
    const path = points.map((p) => `${x(p.window_start).toFixed(1)},${y(p[spec.field]).toFixed(1)}`).join(" ");
    plot.appendChild(svg("polyline", { points: path, fill: "none", stroke: color, "stroke-width": 1.5 }));
    for (const p of points) {
      const dot = svg("circle", {
        cx: x(p.window_start), cy: y(p[spec.field]), r: 2.2,
        fill: p.is_final ? color : "#fff", stroke: color,
      });
      const tip = svg("title");
      tip.textContent = `${agent.agent_id} ${agent.agent_version} ${timeOfDay(p.window_start)}: ${format(p[spec.field], spec.format)}`;
      dot.appendChild(tip);
      plot.appendChild(dot);
    }
  });
  box.appendChild(plot);
  return box;
}

function renderCharts(snapshot) {
  const horizon = snapshot.event_time;
  const charts = document.getElementById("charts");
  if (horizon.horizon_end_ms === null) {
    charts.replaceChildren();
    return;
  }
  const range = [horizon.horizon_start_ms, horizon.horizon_end_ms];
  charts.replaceChildren(...CHARTS.map((spec) => renderChart(spec, snapshot.agents, range)));
}

function renderDeadLetters(deadLetters) {
  document.getElementById("dead-letter-total").textContent = numberFormat.format(deadLetters.total);
  const rows = Object.entries(deadLetters.by_reason).map(([reason, count]) => {
    const row = element("tr", { "data-reason": reason });
    row.appendChild(element("td", {}, reason));
    row.appendChild(element("td", { class: "num", "data-field": "count", "data-value": String(count) }, numberFormat.format(count)));
    return row;
  });
  replaceRows(document.getElementById("dead-letters-body"), rows, "none", 2);
}

function renderAlerts(alerts) {
  const rows = alerts.map((alert) => {
    const row = element("tr", { "data-alert-id": alert.alert_id });
    row.appendChild(element("td", {}, new Date(alert.window_end).toISOString().slice(0, 16).replace("T", " ")));
    row.appendChild(element("td", { class: "sev-" + alert.severity }, alert.severity));
    row.appendChild(element("td", {}, alert.kind));
    row.appendChild(element("td", {}, [alert.agent_id, alert.agent_version].filter(Boolean).join(" ") || "–"));
    row.appendChild(element("td", {}, alert.metric));
    row.appendChild(element("td", { class: "num" }, alert.value.toFixed(3)));
    row.appendChild(element("td", { class: "num" }, alert.threshold.toFixed(3)));
    row.appendChild(element("td", {}, alert.message));
    return row;
  });
  replaceRows(document.getElementById("alerts-body"), rows, "none", 8);
}

function signed(value) {
  if (value === null || value === undefined) return "–";
  const text = String(Number(value.toPrecision(3)));
  return value > 0 ? "+" + text : text;
}

function plain(value) {
  return value === null || value === undefined ? "–" : String(Number(value.toPrecision(4)));
}

// One row per metric of each agent's latest comparison; the agent, versions and overall verdict
// on its first row. Verdicts arrive as enum symbols (not_yet_known): shown with spaces.
function renderReleaseImpacts(impacts) {
  const rows = [];
  for (const impact of impacts || []) {
    const needed = impact.sessions_needed ? ` (needs ~${numberFormat.format(impact.sessions_needed)} sessions)` : "";
    impact.metrics.forEach((metric, index) => {
      const row = element("tr", { "data-agent": impact.agent_id, "data-metric": metric.metric });
      const first = index === 0;
      row.appendChild(element("td", {}, first ? impact.agent_id : ""));
      row.appendChild(element("td", {}, first ? `${impact.baseline} → ${impact.candidate}` : ""));
      row.appendChild(element("td", { class: "verdict-" + impact.verdict, "data-field": "verdict" },
        first ? impact.verdict.replaceAll("_", " ") + needed : ""));
      row.appendChild(element("td", {}, metric.metric + (metric.metric === impact.primary_metric ? " (primary)" : "")));
      row.appendChild(element("td", { class: "num" }, plain(metric.baseline_mean)));
      row.appendChild(element("td", { class: "num" }, plain(metric.candidate_mean)));
      row.appendChild(element("td", { class: "num", "data-field": "difference" }, signed(metric.difference)));
      row.appendChild(element("td", { class: "num", "data-field": "interval" },
        `[${signed(metric.ci_low)}, ${signed(metric.ci_high)}]`));
      row.appendChild(element("td", { class: "num" },
        `${numberFormat.format(metric.baseline_sessions)} / ${numberFormat.format(metric.candidate_sessions)}`));
      row.appendChild(element("td", { class: "verdict-" + metric.verdict }, metric.verdict.replaceAll("_", " ")));
      rows.push(row);
    });
  }
  replaceRows(document.getElementById("release-impacts-body"), rows, "no comparison published", 10);
}

const RANGE_NAMES = { "15m": "last 15 min", "1h": "last hour", "6h": "last 6 hours", "24h": "last 24 hours", all: "everything kept" };
const FOLLOWS = {
  live: "live: ends now",
  turns: "ends at the newest turns",
  windows: "no turns yet: ends at the newest window",
};

function renderStatus(snapshot) {
  const horizon = snapshot.event_time;
  const label = document.getElementById("horizon");
  if (horizon.horizon_end_ms !== null) {
    const start = new Date(horizon.horizon_start_ms).toISOString().slice(0, 16).replace("T", " ");
    label.textContent = `event time ${start} → ${timeOfDay(horizon.horizon_end_ms)} UTC`;
  }
  label.dataset.version = String(snapshot.version);
  label.dataset.follows = horizon.follows;
  const rangeText = `(${RANGE_NAMES[horizon.range] || horizon.range} of event time, ${FOLLOWS[horizon.follows] || horizon.follows})`;
  document.getElementById("lookback-label").textContent = rangeText;
  document.getElementById("charts-label").textContent = rangeText;
  renderRangeButtons(horizon.range);
  const feed = snapshot.feed;
  const counts = Object.entries(feed.records).map(([topic, n]) => `${topic}: ${numberFormat.format(n)}`);
  let text = `feed: ${feed.connected ? "connected" : "not connected"} · ${counts.join(" · ")}`;
  text += ` · unreadable: ${feed.decode_errors}`;
  if (feed.missing_topics.length) text += ` · waiting for topics: ${feed.missing_topics.join(", ")}`;
  if (feed.last_error && !feed.connected) text += ` · ${feed.last_error}`;
  document.getElementById("feed").textContent = text;
}

function render(snapshot) {
  renderAgents(snapshot.agents);
  renderLegend(snapshot.agents);
  renderCharts(snapshot);
  renderDeadLetters(snapshot.dead_letters);
  renderAlerts(snapshot.alerts);
  renderReleaseImpacts(snapshot.release_impacts);
  renderStatus(snapshot);
}

function setConnection(state, text) {
  const pill = document.getElementById("connection");
  pill.className = "pill pill-" + state;
  pill.textContent = text;
}

// The range shown: `#range=6h` in the address (bookmarkable), else the server's default.
function chosenRange() {
  const match = /range=([^&]+)/.exec(window.location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function renderRangeButtons(current) {
  for (const button of document.querySelectorAll("#ranges button[data-range]")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === current));
  }
}

let source = null;

function connect() {
  if (source !== null) source.close();
  const range = chosenRange();
  const url = "/api/stream" + (range ? "?range=" + encodeURIComponent(range) : "");
  const stream = new EventSource(url);
  source = stream;
  stream.onopen = () => setConnection("live", "live");
  stream.addEventListener("snapshot", (event) => {
    if (stream !== source) return; // a stream of the range shown before
    setConnection("live", "live");
    render(JSON.parse(event.data));
  });
  // EventSource reports an error and reconnects by itself: only a stream that is not open
  // is "reconnecting" (or "down" once the browser gave up).
  stream.onerror = () => {
    if (stream !== source || stream.readyState === EventSource.OPEN) return;
    if (stream.readyState === EventSource.CLOSED) setConnection("down", "disconnected");
    else setConnection("wait", "reconnecting…");
  };
}

for (const button of document.querySelectorAll("#ranges button[data-range]")) {
  button.addEventListener("click", () => {
    window.location.hash = "range=" + button.dataset.range;
  });
}
window.addEventListener("hashchange", connect);

connect();
