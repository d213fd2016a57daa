// The inspector page: queue, detail, audit trail and the actions the caller may take.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { token: sessionStorage.getItem("riskloop-token") || "", me: null, meta: null,
                cursor: null, selected: null };

// Fields of each action's form: [name, kind, choices-key-or-label]
const FORMS = {
  dispatch: [["department", "text", "department (blank: the warning's)"], ["note", "text"]],
  return: [["reason_code", "select", "return"], ["note", "text"]],
  arbitrate: [["department", "text", "binding department"], ["note", "text"]],
  claim: [], release: [["note", "text"]], resume: [["note", "text"]],
  escalate: [["case_ref", "text", "case number"], ["note", "text"]],
  suspend: [["reason_code", "select", "suspend"], ["note", "text"]],
  request_extension: [["days", "number", "working days"], ["reason", "text"]],
  decide_extension: [["decision", "select", "decision"], ["note", "text"]],
  dispose: [["code", "select", "disposition"], ["sub_reason", "select", "false_positive"],
            ["note", "text"], ["evidence_uri", "text", "evidence URI"],
            ["evidence_name", "text", "evidence name"]],
  submit: [["note", "text"]], approve: [["note", "text"]], reject: [["reason", "text"]],
  dismiss: [["code", "select", "dismiss"], ["sub_reason", "select", "false_positive"],
            ["note", "text"]],
  merge: [["into", "text", "clue id to merge into"]],
  comment: [["text", "text", "comment"]],
  label: [["add", "text", "labels to add, comma-separated"]],
  evidence: [["evidence_uri", "text", "evidence URI"], ["evidence_name", "text", "name"]],
};

function say(text, ok) {
  const m = $("#message");
  m.textContent = text;
  m.className = ok ? "ok" : "error";
}

async function api(method, path, body) {
  const resp = await fetch(path, {
    method, headers: { "Authorization": "Bearer " + state.token,
                       "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const d = data.detail;
    throw new Error(typeof d === "string" ? d : JSON.stringify(d || resp.statusText));
  }
  return data;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

const when = (ms) => ms ? new Date(ms).toLocaleString("zh-CN",
  { hour12: false, timeZone: "Asia/Shanghai" }) : "";
const badge = (c) => c ? el("span", { class: "badge " + c, "data-testid": "colour" }, c) : "";
// a deadline counted across days the holiday calendar did not cover (Monday-Friday guessed)
const estimated = (c) => c.deadline_estimated ? el("span", { class: "badge estimated",
  "data-testid": "estimated", title: "counted across days the holiday calendar does not " +
  "cover yet (Monday to Friday assumed): check it against the year's holiday notice" },
  "estimated") : "";
const deadline = (c) => [when(c.due_ms), " ", estimated(c)];

async function signIn(token) {
  state.token = token;
  state.me = await api("GET", "/whoami");
  sessionStorage.setItem("riskloop-token", token);
  $("#whoami").textContent = `${state.me.name} (${state.me.role}) · ` +
    `${state.me.departments.join(", ")} · ${state.me.regions.join(", ")}`;
  if (state.me.role === "supervisor" || state.me.role === "admin") $("#f-status").value = "";
  await loadQueue(false);
  const deep = location.hash.match(/^#clue=(.+)$/);  // a link from the supervisor overview
  if (deep) await showClue(decodeURIComponent(deep[1]));
}

function queueParams() {
  const p = new URLSearchParams({ limit: "50" });
  const s = $("#f-status").value, c = $("#f-colour").value, r = $("#f-rule").value.trim();
  if (s) p.set("status", s);
  if (c) p.set("colour", c);
  if (r) p.set("rule", r);
  if ($("#f-mine").checked) p.set("mine", "true");
  if ($("#f-sort").value) p.set("sort", $("#f-sort").value);
  if (state.cursor) p.set("cursor", state.cursor);
  return p;
}

async function loadQueue(more) {
  if (!more) { state.cursor = null; $("#queue").replaceChildren(); }
  try {
    const page = await api("GET", "/clues?" + queueParams());
    for (const c of page.items) $("#queue").append(queueRow(c));
    state.cursor = page.next_cursor;
    $("#more").hidden = !state.cursor;
    if (!more && !page.items.length) $("#queue").append(el("tr", {}, el("td", { colSpan: 5,
      class: "muted" }, "nothing here")));
  } catch (e) { say(e.message); }
}

function queueRow(c) {
  const tr = el("tr", { class: "row", "data-testid": "clue-row", "data-id": c.id },
    el("td", {}, el("b", {}, c.title || c.rule_id), el("br"), el("span", { class: "muted" }, c.id)),
    el("td", { "data-testid": "status" }, c.status_label),
    el("td", {}, badge(c.colour), " ", ...deadline(c)),
    el("td", {}, c.department, el("br"), c.region),
    el("td", {}, c.claimed_by || ""));
  if (c.id === state.selected) tr.classList.add("selected");
  tr.addEventListener("click", () => showClue(c.id));
  return tr;
}

// a stored address becomes a link only when it is http(s); anything else stays text
function evidenceLink(uri) {
  let url = null;
  try { url = new URL(uri); } catch (e) { url = null; }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    return el("span", { "data-testid": "evidence-text" }, uri);
  }
  return el("a", { href: url.href, rel: "noopener noreferrer", target: "_blank",
                   "data-testid": "evidence-link" }, uri);
}

function allowed(c) {
  const out = [];
  for (const [action, a] of Object.entries(state.meta.actions)) {
    if (!a.sources.includes(c.status) || !a.roles.includes(state.me.role)) continue;
    if (a.holder && c.claimed_by !== state.me.name && !a.override.includes(state.me.role)) continue;
    out.push(action);
  }
  return out;
}

async function showClue(id) {
  state.selected = id;
  let c;
  try { c = await api("GET", "/clues/" + encodeURIComponent(id)); } catch (e) { return say(e.message); }
  const d = $("#detail");
  const refs = el("ul", { "data-testid": "evidence" },
    ...c.evidence_refs.map((r) => el("li", {}, r.name || r.uri, " — ", evidenceLink(r.uri))));
  const facts = [["status", c.status_label], ["rule", c.rule_id], ["severity", c.severity],
    ["priority", c.priority], ["key", c.key], ["department", c.department], ["region", c.region],
    ["deadline", el("span", {}, ...deadline(c))], ["colour", badge(c.colour)], ["holder", c.claimed_by || "—"],
    ["warnings", `${c.warning_count} (${when(c.first_seen_ms)} – ${when(c.last_seen_ms)})`],
    ["events", c.evidence.join(", ")], ["labels", c.labels.join(", ")],
    ["disposition", c.disposition_code ? `${c.disposition_code} ${c.sub_reason || ""}` : "—"],
    ["note", el("span", { "data-testid": "note" }, c.note || "—")],
    ["returns / rework", `${c.return_count} / ${c.rework_count}`]];
  const dl = el("dl", {}, ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const audit = el("table", { "data-testid": "audit" }, el("thead", {}, el("tr", {},
    ...["time", "who", "action", "from → to", "reason"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...c.audit.map((e) => el("tr", {}, el("td", {}, when(e.ts_ms)),
      el("td", {}, e.actor), el("td", {}, e.action), el("td", {}, `${e.from} → ${e.to}`),
      el("td", {}, e.reason)))));
  const buttons = el("div", { class: "actions", "data-testid": "actions" },
    ...allowed(c).map((a) => el("button", { type: "button", "data-action": a,
      onclick: () => openForm(c, a) }, a.replace("_", " "))));
  d.replaceChildren(el("h2", {}, c.title || c.rule_id), el("p", { class: "muted" }, c.id),
    dl, el("h3", {}, "Actions"), buttons, el("div", { id: "form" }),
    el("h3", {}, "Evidence"), refs, el("h3", {}, "Audit trail"), audit);
}

function field(name, kind, choices) {
  const label = (typeof choices === "string" && !state.meta.codes[choices] &&
                 choices !== "decision") ? choices : name.replace("_", " ");
  if (kind === "select") {
    const opts = choices === "decision" ? ["approve", "reject"] : state.meta.codes[choices];
    const blank = choices === "false_positive" ? [el("option", { value: "" }, "—")] : [];
    return el("label", {}, label + " ", el("select", { name }, ...blank,
      ...opts.map((o) => el("option", { value: o }, o))));
  }
  return el("label", {}, label + " ", el("input", { name, type: kind, size: 40 }));
}

function openForm(c, action) {
  const f = el("form", { class: "action", "data-testid": "form-" + action },
    ...FORMS[action].map(([n, k, ch]) => field(n, k, ch)),
    el("button", { type: "submit" }, "Confirm " + action.replace("_", " ")));
  f.addEventListener("submit", (ev) => { ev.preventDefault(); submit(c, action, f); });
  $("#form").replaceChildren(f);
  if (!FORMS[action].length) submit(c, action, f);
}

function body(action, form) {
  const b = {};
  for (const [k, v] of new FormData(form).entries()) if (v !== "") b[k] = v;
  if (b.days) b.days = Number(b.days);
  if (b.add) b.add = b.add.split(",").map((s) => s.trim()).filter(Boolean);
  if (b.evidence_uri) {
    b.evidence_refs = [{ uri: b.evidence_uri, name: b.evidence_name || undefined }];
  }
  delete b.evidence_uri; delete b.evidence_name;
  return b;
}

async function submit(c, action, form) {
  const path = `/clues/${encodeURIComponent(c.id)}/${state.meta.actions[action].path}`;
  try {
    const after = await api("POST", path, body(action, form));
    say(`${action.replace("_", " ")}: ${c.id} is now ${after.status_label}`, true);
  } catch (e) { return say(e.message); }
  await loadQueue(false);
  await showClue(c.id);
}

async function start() {
  state.meta = await (await fetch("/ui/meta.json")).json();
  for (const c of state.meta.colours) $("#f-colour").append(el("option", { value: c }, c));
  $("#login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn($("#token").value.trim()).catch((e) => say(e.message));
  });
  $("#f-mine").addEventListener("change", () => {  // nothing dispatched is held by anyone
    if ($("#f-mine").checked && $("#f-status").value === "dispatched") $("#f-status").value = "";
  });
  for (const id of ["#refresh", "#f-status", "#f-colour", "#f-mine", "#f-sort"]) {
    $(id).addEventListener(id === "#refresh" ? "click" : "change", () => loadQueue(false));
  }
  $("#more").addEventListener("click", () => loadQueue(true));
  if (state.token) signIn(state.token).catch((e) => say(e.message));
}

start();
