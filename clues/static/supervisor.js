// The supervisor overview: the /views/... JSON drawn as inline SVG charts and tables.
// Nothing is fetched from another host; every text goes in through textContent.
"use strict";

const $ = (sel) => document.querySelector(sel);
const SVG = "http://www.w3.org/2000/svg";
const NOW_C = "#457b9d", BEFORE_C = "#e76f51";
const state = { token: sessionStorage.getItem("riskloop-token") || "" };

function say(text) { const m = $("#message"); m.textContent = text || ""; m.className = text ? "error" : ""; }

async function api(path, params) {
  const q = new URLSearchParams(params || {});
  const resp = await fetch(path + (q.toString() ? "?" + q : ""),
    { headers: { "Authorization": "Bearer " + state.token } });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(typeof data.detail === "string" ? data.detail : resp.statusText);
  return data;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmt = (n) => n === null || n === undefined ? "–" : Number(n).toLocaleString("en");
// the smallest 1, 2 or 5 times a power of ten at or above v: an axis top people read at once
const nice = (v) => { const p = 10 ** Math.floor(Math.log10(Math.max(1, v)));
  return [1, 2, 5, 10].map((m) => m * p).find((t) => t >= v); };
const pct = (p) => p === null || p === undefined ? "new" : (p > 0 ? "▲ +" : p < 0 ? "▼ " : "") + p + "%";

// Vertical bars per day (this period) with a line for the same day of the previous period.
function dailyChart(rows) {
  const W = 900, H = 220, L = 40, B = 28, T = 10;
  const top = nice(Math.max(1, ...rows.map((r) => Math.max(r.warnings, r.previous_warnings))));
  const bw = (W - L - 10) / Math.max(1, rows.length);
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img",
                         "aria-label": "warnings per day" });
  for (const f of [0, 0.5, 1]) {
    s.append(svg("line", { x1: L, x2: W - 10, y1: y(top * f), y2: y(top * f), stroke: "#e3e6ea" }));
    s.append(svg("text", { x: L - 4, y: y(top * f) + 4, "text-anchor": "end" }, fmt(top * f)));
  }
  const step = Math.ceil(rows.length / 15);
  const pts = [];
  rows.forEach((r, i) => {
    const x = L + i * bw;
    const bar = svg("rect", { x: x + bw * 0.1, y: y(r.warnings), width: bw * 0.8,
      height: H - B - y(r.warnings), fill: NOW_C, "data-day": r.day, "data-value": r.warnings });
    bar.append(svg("title", {}, `${r.day}: ${r.warnings} warnings, ${r.clues} clues ` +
      `(previous period: ${r.previous_warnings})`));
    s.append(bar);
    pts.push(`${x + bw / 2},${y(r.previous_warnings)}`);
    if (i % step === 0) s.append(svg("text", { x: x + bw / 2, y: H - 10, "text-anchor": "middle" }, r.day.slice(5)));
  });
  s.append(svg("polyline", { points: pts.join(" "), fill: "none", stroke: BEFORE_C, "stroke-width": 2 }));
  return s;
}

// Horizontal bars, most first: this period, with a tick at the previous period's value.
function barsChart(rows, dim) {
  rows = rows.slice(0, 8);
  if (!rows.length) return el("p", { class: "muted" }, "nothing in this period");
  const W = 440, row = 24, L = 150, R = 90, H = rows.length * row + 4;
  const top = Math.max(1, ...rows.map((r) => Math.max(r.warnings, r.previous_warnings)));
  const x = (v) => L + (W - L - R) * v / top;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": "warnings by " + dim });
  rows.forEach((r, i) => {
    const yy = i * row + 2;
    const name = r.name.length > 22 ? r.name.slice(0, 21) + "…" : r.name;
    s.append(svg("text", { x: L - 6, y: yy + 15, "text-anchor": "end" }, name));
    s.append(svg("rect", { x: L, y: yy + 3, width: Math.max(1, x(r.warnings) - L), height: row - 8,
      fill: NOW_C, "data-name": r.name, "data-value": r.warnings }));
    s.append(svg("line", { x1: x(r.previous_warnings), x2: x(r.previous_warnings), y1: yy + 1,
      y2: yy + row - 3, stroke: BEFORE_C, "stroke-width": 3 }));
    s.append(svg("text", { x: x(r.warnings) + 6, y: yy + 15 }, `${fmt(r.warnings)} (${pct(r.change_pct)})`));
  });
  return s;
}

function table(cols, rows, empty) {
  if (!rows.length) return el("p", { class: "muted" }, empty);
  const head = el("tr", {}, ...cols.map(([label, , n]) => el("th", n ? { class: "n" } : {}, label)));
  const body = rows.map((r) => el("tr", { "data-testid": "row" },
    ...cols.map(([, get, n]) => { const v = get(r); return el("td", n ? { class: "n" } : {}, v); })));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
}

const when = (ms) => ms ? new Date(ms).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" }) : "";

function overdueTable(rows) {
  return table([
    ["Clue", (r) => el("a", { href: r.link, "data-testid": "clue-link" }, r.title)],
    ["Rule", (r) => r.rule], ["Severity", (r) => r.severity],
    ["Dept / district", (r) => `${r.department} / ${r.region}`], ["Holder", (r) => r.claimed_by || "—"],
    ["Due", (r) => when(r.due_ms)], ["Days over", (r) => el("span", { class: "badge" }, fmt(r.overdue_days)), true],
  ], rows, "no clue is past its deadline");
}

function subjectsTable(rows) {
  return table([["Subject", (r) => r.subject], ["Rule", (r) => r.rule], ["Days", (r) => fmt(r.days), true],
    ["Warnings", (r) => fmt(r.warnings), true], ["Last seen", (r) => r.last_day], ["Districts", (r) => r.regions]],
    rows, "none came back in this period");
}

function precisionTable(rows) {
  return table([["Rule", (r) => r.rule], ["Closed", (r) => fmt(r.closed), true],
    ["Confirmed", (r) => fmt(r.confirmed), true], ["Dismissed", (r) => fmt(r.dismissed), true],
    ["Precision", (r) => r.precision === null ? "–" : Math.round(r.precision * 100) + "%", true]],
    rows, "no clue first warned in this period is closed yet");
}

function showSummary(s) {
  $("#k-warnings").textContent = fmt(s.warnings);
  const t = $("#k-trend");
  t.textContent = (s.previous_warnings ? `${pct(s.warnings_change_pct)} against ` +
    `${fmt(s.previous_warnings)}` : "none in the previous period") +
    ` (${s.previous_from} – ${s.previous_to})`;
  t.className = "trend " + (s.warnings > s.previous_warnings ? "up" : s.warnings < s.previous_warnings ? "down" : "");
  $("#k-clues").textContent = fmt(s.clues);
  $("#k-clues-before").textContent = `previous period: ${fmt(s.previous_clues)}`;
  $("#k-red").textContent = fmt(s.red);
  $("#k-red").className = "value" + (s.red ? " alarm" : "");
  $("#k-precision").textContent = s.precision === null ? "–" : Math.round(s.precision * 100) + "%";
  $("#k-closed").textContent = `${fmt(s.confirmed)} confirmed of ${fmt(s.closed)} closed`;
  $("#daily-title").textContent = `Warnings per day, ${s.from} – ${s.to} (event time, UTC+8)`;
  $("#from").value = s.from; $("#to").value = s.to;
}

async function load() {
  const where = {};  // narrows every view inside the caller's scope
  for (const f of ["region", "department"]) if ($("#" + f).value.trim()) where[f] = $("#" + f).value.trim();
  const p = { ...where };
  if ($("#from").value) p.from = $("#from").value;
  if ($("#to").value) p.to = $("#to").value;
  const s = await api("/views/summary", p);
  showSummary(s);
  const period = { ...where, from: s.from, to: s.to };
  const [daily, overdue, entities, officials, precision, ...dims] = await Promise.all([
    api("/views/daily", period), api("/views/overdue", { ...where, limit: 20 }),
    api("/views/recurring/entities", period), api("/views/recurring/officials", period),
    api("/views/precision", period),
    ...["region", "department", "rule", "severity"].map((d) => api("/views/by/" + d, period)),
  ]);
  $("#daily").replaceChildren(dailyChart(daily));
  ["region", "department", "rule", "severity"].forEach((d, i) =>
    $("#by-" + d).replaceChildren(barsChart(dims[i], d)));
  $("#overdue").replaceChildren(overdueTable(overdue));
  $("#entities").replaceChildren(subjectsTable(entities));
  $("#officials").replaceChildren(subjectsTable(officials));
  $("#precision").replaceChildren(precisionTable(precision));
  say("");
}

async function signIn(token) {
  state.token = token;
  const me = await api("/whoami");
  sessionStorage.setItem("riskloop-token", token);
  $("#whoami").textContent = `${me.name} (${me.role}) · ${me.departments.join(", ")} · ${me.regions.join(", ")}`;
  await load();
}

function start() {
  // a link may carry the token in its fragment (never sent to the server): keep it, drop it
  const m = location.hash.match(/^#token=(.+)$/);
  if (m) { state.token = decodeURIComponent(m[1]); history.replaceState(null, "", location.pathname); }
  $("#login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn($("#token").value.trim()).catch((e) => say(e.message));
  });
  $("#period").addEventListener("submit", (ev) => { ev.preventDefault(); load().catch((e) => say(e.message)); });
  if (state.token) signIn(state.token).catch((e) => say(e.message));
}

start();
