// detente web UI: plain JavaScript, no framework, every asset served locally.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { scenario: null, given: null, run: null, job: null, validateTimer: null };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "style" || k === "innerHTML") throw new Error("el(): no inline style or markup; set e.style properties");
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// Every request says it comes from this page (the server refuses writes from other sites without
// it) and carries the access token when the server needs one (typed once, kept in this tab only).
function authHeaders() {
  const h = { "X-Detente": "1" };
  const token = sessionStorage.getItem("detente-token");
  if (token) h.Authorization = "Bearer " + token;
  return h;
}

async function api(method, path, body) {
  const opts = { method, headers: authHeaders() };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (r.status === 401) askToken(data && data.detail);
  return { status: r.status, ok: r.ok, data };
}

function askToken(detail) {
  const box = $("#auth");
  box.hidden = false;
  if (detail) $("#auth-why").textContent = detail;
  $("#token").focus();
}

function useToken() {
  const t = $("#token").value.trim();
  if (!t) return;
  sessionStorage.setItem("detente-token", t);
  $("#token").value = "";
  $("#auth").hidden = true;
  init();
}

// A colour from a file is used only when it is a colour: #rgb/#rrggbb(aa), a colour name, or
// rgb()/hsl() with numbers; anything else (url(...), expressions, other properties) is dropped.
const COLOR = /^(#[0-9a-f]{3,8}|[a-z]{3,30}|(rgb|hsl)a?\([0-9.,%\s]+\))$/i;
function safeColor(c) {
  return typeof c === "string" && COLOR.test(c.trim()) && CSS.supports("color", c.trim()) ? c.trim() : null;
}

// Downloads go through fetch (so they carry the token), then are saved from a local blob.
async function download(path, name) {
  const r = await fetch(path, { headers: authHeaders() });
  if (!r.ok) { showProblems([{ field: "download", reason: `the download failed (HTTP ${r.status})` }], null, "#run-problems", false); return; }
  saveBlob(await r.blob(), name);
}

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---------------------------------------------------------------- problems
// A problem is shown where the eye is: next to the field it names (found by its `data-field`, or the
// nearest enclosing one: `events[e].changes.positions.deal` falls back to `events[e].changes`, then
// `events[e]`), on the tab of an issue that is not open, and in a list beside the control that was used
// (the upload, the Run button, the downloads). The editor's own list (#problems) names every problem of
// the scenario.

function problemText(p) {
  let where = p.file || "";
  if (p.line) where += ":" + p.line;
  return (where ? where + ": " : "") + (p.field ? p.field + ": " : "") + p.reason;
}

const BOXES = ["#problems", "#upload-problems", "#run-problems", "#advice-problems", "#export-problems", "#record-problems"];

function clearProblems() {
  for (const sel of BOXES) {
    const box = $(sel);
    if (!box) continue;
    box.hidden = true;
    box.textContent = "";
  }
  document.querySelectorAll(".field-error").forEach((e) => e.remove());
  document.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
  document.querySelectorAll("[data-problems]").forEach((e) => e.removeAttribute("data-problems"));
  state.problems = null;
}

function fieldElement(field) {
  let f = field;
  while (f) {
    const found = document.querySelector(`[data-field="${CSS.escape(f)}"]`);
    if (found) return found;
    const cut = Math.max(f.lastIndexOf("."), f.lastIndexOf("["));
    if (cut <= 0) return null;
    f = f.slice(0, cut);
  }
  return null;
}

// The issue a field belongs to, for a problem whose field is on a tab that is not open.
function issueOfField(field) {
  const m = /^(?:actors\[[^\]]+\]\.(?:positions|salience)\.|issues\[)([^\].]+)/.exec(field || "")
    || /^events\[[^\]]+\]\.changes\.(?:positions|salience)\.([^.]+)/.exec(field || "");
  return m ? m[1] : null;
}

function listBox(sel, title, problems) {
  const box = $(sel);
  if (!box || !problems.length) return;
  box.hidden = false;
  box.textContent = "";
  box.append(el("b", { text: title }));
  const ul = el("ul");
  for (const p of problems) ul.append(el("li", { text: problemText(p) }));
  box.append(ul);
}

// problems: [{file, line, field, reason}]; targets: the server's table cell of each (or null);
// near: the box beside the control used; list: also list every problem in the editor (#problems).
function showProblems(problems, targets, near, list = true) {
  clearProblems();
  if (!problems || !problems.length) return;
  state.problems = { problems, targets, near, list };
  const loose = [];
  problems.forEach((p, i) => {
    const field = (targets && targets[i]) || p.field;
    const input = field ? fieldElement(field) : null;
    if (input) {
      input.classList.add("invalid");
      const host = input.closest("td, .field") || input.parentElement;
      host.classList.add("invalid");
      host.append(el("span", { class: "field-error", "data-for": field, text: p.reason }));
    } else {
      const iss = issueOfField(field);
      const tab = iss ? document.querySelector(`#issue-tabs button.tab[data-issue="${CSS.escape(iss)}"]`) : null;
      if (tab) {
        tab.classList.add("invalid");
        tab.setAttribute("data-problems", String(Number(tab.getAttribute("data-problems") || 0) + 1));
      } else loose.push(p);
    }
  });
  const n = problems.length;
  const title = `${n} problem${n > 1 ? "s" : ""} found:`;
  if (list) listBox("#problems", title, problems);
  if (near && near !== "#problems") {
    if (loose.length) listBox(near, title, loose.length === n ? loose : loose);
    else {
      const box = $(near);
      box.hidden = false;
      box.textContent = `${title.replace(/:$/, "")}: each is marked at its field in the editor below.`;
    }
  }
}

// After the editor is drawn again, its problems are shown again on the new fields.
function reshowProblems() {
  const p = state.problems;
  if (p) showProblems(p.problems, p.targets, p.near, p.list);
}

// ---------------------------------------------------------------- the scenario editor

function num(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return v.value === undefined || v.value === null ? "" : v.value;
  return v;
}

function parseNum(text) {
  const t = String(text).trim();
  if (t === "") return null;
  return isNaN(Number(t)) ? t : Number(t);
}

// A new point value keeps the value's uncertainty range as it is: a value outside its range is a
// problem the validation names at the field, never a range widened behind the user's back.
function setValue(holder, key, text) {
  const x = parseNum(text);
  const old = holder[key];
  if (old && typeof old === "object" && !Array.isArray(old)) old.value = x;
  else if (x === null) delete holder[key];
  else holder[key] = x;
}

function setBound(holder, key, bound, text) {
  const x = parseNum(text);
  let v = holder[key];
  if (!v || typeof v !== "object") v = holder[key] = { value: v === undefined ? null : v };
  if (x === null) delete v[bound];
  else v[bound] = x;
}

function bound(v, b) {
  return v && typeof v === "object" && v[b] !== undefined && v[b] !== null ? v[b] : "";
}

function issuesOf(s) { return Array.isArray(s.issues) ? s.issues.filter((i) => i && typeof i === "object") : []; }
function actorsOf(s) { return Array.isArray(s.actors) ? s.actors.filter((a) => a && typeof a === "object") : []; }
function eventsOf(s) { return Array.isArray(s.events) ? s.events.filter((e) => e && typeof e === "object") : []; }

function currentIssue(s) {
  const issues = issuesOf(s);
  if (!issues.some((i) => i.key === state.issue)) state.issue = issues.length ? issues[0].key : null;
  return issues.find((i) => i.key === state.issue) || null;
}

function input(attrs, onchange) {
  const e = el("input", attrs);
  e.addEventListener("change", () => onchange(e.value));
  return e;
}

function field(labelText, inner, dataField) {
  return el("label", { class: "field", "data-field": dataField || null }, labelText, inner);
}

function uniqueKey(base, taken) {
  let n = taken.length + 1;
  while (taken.includes(base + n)) n++;
  return base + n;
}

// The value of a cell (capability, position, salience) with its uncertainty range: value, low, high.
function valueCell(holder, key, dataField, label) {
  const v = holder[key];
  const val = input({ class: "val", value: num(v), "data-field": dataField, "aria-label": label, inputmode: "decimal" },
    (t) => { setValue(holder, key, t); edited(false); });
  const why = v && typeof v === "object" && v.why;
  if (why) val.title = why;
  const lo = input({ class: "lo", value: bound(v, "low"), "data-low-of": dataField, "aria-label": `${label}: low`,
    placeholder: "low", inputmode: "decimal" }, (t) => { setBound(holder, key, "low", t); edited(false); });
  const hi = input({ class: "hi", value: bound(v, "high"), "data-high-of": dataField, "aria-label": `${label}: high`,
    placeholder: "high", inputmode: "decimal" }, (t) => { setBound(holder, key, "high", t); edited(false); });
  return el("td", { class: "value" }, val, lo, hi);
}

function renderEditor() {
  renderPending = false;
  const s = state.scenario;
  for (const id of ["#issue-tabs", "#issue-form", "#actors-table", "#events-table"]) $(id).textContent = "";
  if (!s) return;
  $("#scenario-name").textContent = s.name ? "\u2014 " + s.name : "";
  $("#scenario-title").value = s.name ?? "";
  const iss = currentIssue(s);
  renderTabs(s);
  renderIssueForm(s, iss);
  renderActors(s, iss);
  renderEvents(s, iss);
  fillAdviceChoices();
  reshowProblems();
}

function renderTabs(s) {
  const bar = $("#issue-tabs");
  for (const i of issuesOf(s)) {
    const b = el("button", { class: "tab" + (i.key === state.issue ? " active" : ""), "data-issue": i.key, role: "tab",
      "aria-selected": String(i.key === state.issue), title: i.name || i.key, text: i.key });
    b.addEventListener("click", () => { state.issue = i.key; renderEditor(); });
    bar.append(b);
  }
  bar.append(el("button", { id: "add-issue", class: "add", text: "+ issue", onclick: addIssue }));
}

function renderIssueForm(s, iss) {
  const box = $("#issue-form");
  if (!iss) {
    box.append(el("p", { class: "muted small", text: "No issue yet: add one (+ issue) to give the actors positions." }));
    return;
  }
  const f = `issues[${iss.key}]`;
  iss.scale = Array.isArray(iss.scale) ? iss.scale : [0, 100];
  const row = el("div", { class: "row issue-row", "data-field": f });
  row.append(field("Key", input({ class: "key", value: iss.key ?? "", "aria-label": "issue key" },
    (t) => renameIssue(iss, t.trim())), `${f}.key`));
  row.append(field("Name", input({ class: "name", value: iss.name ?? "", "aria-label": "issue name" },
    (t) => { iss.name = t; edited(false); }), `${f}.name`));
  const scale = el("span", { class: "pair" },
    input({ class: "lo", value: iss.scale[0], "aria-label": "scale low", inputmode: "decimal" }, (t) => { iss.scale[0] = parseNum(t); edited(false); }),
    " to ",
    input({ class: "hi", value: iss.scale[1], "aria-label": "scale high", inputmode: "decimal" }, (t) => { iss.scale[1] = parseNum(t); edited(false); }));
  row.append(field("Scale", scale, `${f}.scale`));
  row.append(field("Status quo", input({ class: "val", value: num(iss.status_quo), "aria-label": "status quo", inputmode: "decimal" },
    (t) => { const x = parseNum(t); if (x === null) delete iss.status_quo; else iss.status_quo = x; edited(false); }), `${f}.status_quo`));
  row.append(el("button", { id: "remove-issue", class: "remove", text: "remove issue", title: `remove ${iss.key}`, onclick: () => removeIssue(iss) }));
  box.append(row);
  // named points of the scale: value and label
  const labels = iss.labels && typeof iss.labels === "object" && !Array.isArray(iss.labels) ? iss.labels : {};
  const points = Object.entries(labels).map(([k, v]) => [k, v]);
  const pts = el("div", { class: "row points field", "data-field": `${f}.labels` }, el("span", { class: "muted small", text: "Named points:" }));
  const write = () => {
    const out = {};
    for (const [k, v] of points) if (String(k).trim() !== "") out[String(k).trim()] = v;
    iss.labels = out;
  };
  points.forEach((pt, n) => {
    pts.append(el("span", { class: "point", "data-point": String(n) },
      input({ class: "val", value: Number.isFinite(Number(pt[0])) ? Number(pt[0]) : pt[0], "aria-label": "point value", inputmode: "decimal" },
        (t) => { pt[0] = t; write(); edited(false); }),
      input({ class: "label", value: pt[1], "aria-label": "point label" }, (t) => { pt[1] = t; write(); edited(false); }),
      el("button", { class: "remove small", text: "\u00d7", title: "remove this point", onclick: () => { points.splice(n, 1); write(); edited(true); } })));
  });
  pts.append(el("button", { id: "add-point", class: "add", text: "+ point", onclick: () => {
    const lo = Number(iss.scale[0]) || 0, hi = Number(iss.scale[1]) || 0;
    let x = (lo + hi) / 2;
    while (points.some((q) => Number(q[0]) === x) && x < hi) x += (hi - lo) / 10 || 1;
    points.push([String(x), "point"]); write(); edited(true);
  } }));
  box.append(pts);
}

function renderActors(s, iss) {
  const t = $("#actors-table");
  const scale = s.salience_scale || 100;
  $("#stakeholders-on").textContent = iss ? `on ${iss.key}${iss.name ? " \u2014 " + iss.name : ""}` : "";
  const head = el("tr", {}, el("th", { text: "key" }), el("th", { text: "name" }),
    el("th", { text: "capability", title: "value, low, high" }));
  if (iss) {
    head.append(el("th", { text: `position on ${iss.key}`, title: `value, low, high; scale ${iss.scale[0]} to ${iss.scale[1]}` }));
    head.append(el("th", { text: `salience on ${iss.key}`, title: `value, low, high; 0 to ${scale}` }));
  }
  head.append(el("th"));
  t.append(el("thead", {}, head));
  const body = el("tbody");
  for (const a of actorsOf(s)) {
    const k = a.key;
    a.positions = a.positions && typeof a.positions === "object" ? a.positions : {};
    a.salience = a.salience && typeof a.salience === "object" ? a.salience : {};
    const tr = el("tr", { "data-actor": k });
    const sw = el("span", { class: "swatch" });
    sw.style.backgroundColor = safeColor(a.color) || "#999";
    tr.append(el("td", {}, sw, input({ class: "key", value: k ?? "", "data-field": `actors[${k}].key`, "aria-label": "actor key" },
      (v) => renameActor(a, v.trim()))));
    tr.append(el("td", {}, input({ class: "name", value: a.name ?? "", "data-field": `actors[${k}].name`, "aria-label": "actor name" },
      (v) => { a.name = v; edited(false); })));
    tr.append(valueCell(a, "capability", `actors[${k}].capability`, `${k} capability`));
    if (iss) {
      tr.append(valueCell(a.positions, iss.key, `actors[${k}].positions.${iss.key}`, `${k} position on ${iss.key}`));
      tr.append(valueCell(a.salience, iss.key, `actors[${k}].salience.${iss.key}`, `${k} salience on ${iss.key}`));
    }
    tr.append(el("td", {}, el("button", { class: "remove", text: "remove", title: `remove ${k}`, onclick: () => {
      s.actors.splice(s.actors.indexOf(a), 1); edited(true);
    } })));
    body.append(tr);
  }
  t.append(body);
}

const EVENT_TYPES = ["change", "join", "leave", "deadline"];

function renderEvents(s, iss) {
  const t = $("#events-table");
  const cols = [["key"], ["name"], ["type"], ["round"], ["date"], ["actor"], ["prob.", "probability that it happens"],
    ["\u2192 capability", "the actor's capability after the event"]];
  if (iss) cols.push(["\u2192 position", `the actor's position on ${iss.key} after the event`],
    ["\u2192 salience", `the actor's salience on ${iss.key} after the event`]);
  cols.push([""]);
  t.append(el("thead", {}, el("tr", {}, ...cols.map(([h, title]) => el("th", { text: h, title: title || null })))));
  const body = el("tbody");
  const actorKeys = actorsOf(s).map((a) => a.key);
  for (const ev of eventsOf(s)) {
    const f = `events[${ev.key}]`;
    ev.changes = ev.changes && typeof ev.changes === "object" ? ev.changes : {};
    const ch = ev.changes;
    const tr = el("tr", { "data-event": ev.key });
    tr.append(el("td", {}, input({ class: "key", value: ev.key ?? "", "data-field": `${f}.key`, "aria-label": "event key" },
      (v) => { const old = ev.key; ev.key = v.trim(); moveRecord("events", old, ev.key); edited(true); })));
    tr.append(el("td", {}, input({ class: "name", value: ev.name ?? "", "data-field": `${f}.name`, "aria-label": "event name" },
      (v) => { ev.name = v; edited(false); })));
    const type = el("select", { "data-field": `${f}.type`, "aria-label": "event type" });
    for (const ty of EVENT_TYPES) type.append(el("option", { value: ty, text: ty }));
    type.value = ev.type;
    type.addEventListener("change", () => { ev.type = type.value; edited(false); });
    tr.append(el("td", {}, type));
    tr.append(el("td", {}, input({ class: "val", value: ev.round ?? "", "data-field": `${f}.round`, "aria-label": "event round", inputmode: "numeric" },
      (v) => { const x = parseNum(v); if (x === null) delete ev.round; else ev.round = x; edited(false); })));
    tr.append(el("td", {}, input({ class: "date", type: "date", value: ev.date ?? "", "data-field": `${f}.date`, "aria-label": "event date" },
      (v) => { if (v) ev.date = v; else delete ev.date; edited(false); })));
    const actor = el("select", { "data-field": `${f}.actor`, "aria-label": "event actor" });
    actor.append(el("option", { value: "", text: "\u2013" }));
    for (const k of actorKeys) actor.append(el("option", { value: k, text: k }));
    if (ev.actor && !actorKeys.includes(ev.actor)) actor.append(el("option", { value: ev.actor, text: ev.actor }));
    actor.value = ev.actor ?? "";
    actor.addEventListener("change", () => { if (actor.value) ev.actor = actor.value; else delete ev.actor; edited(false); });
    tr.append(el("td", {}, actor));
    tr.append(el("td", {}, input({ class: "val", value: ev.probability ?? 1, "data-field": `${f}.probability`, "aria-label": "event probability", inputmode: "decimal" },
      (v) => { const x = parseNum(v); if (x === null) delete ev.probability; else ev.probability = x; edited(false); })));
    tr.append(el("td", {}, input({ class: "val", value: ch.capability ?? "", "data-field": `${f}.changes.capability`, "aria-label": "capability after the event", inputmode: "decimal" },
      (v) => { const x = parseNum(v); if (x === null) delete ch.capability; else ch.capability = x; edited(false); })));
    if (iss) {
      for (const part of ["positions", "salience"]) {
        const holder = ch[part] && typeof ch[part] === "object" ? ch[part] : (ch[part] = {});
        tr.append(el("td", {}, input({ class: "val", value: holder[iss.key] ?? "", "data-field": `${f}.changes.${part}.${iss.key}`,
          "aria-label": `${part} on ${iss.key} after the event`, inputmode: "decimal" },
        (v) => { const x = parseNum(v); if (x === null) delete holder[iss.key]; else holder[iss.key] = x; edited(false); })));
      }
    }
    tr.append(el("td", {}, el("button", { class: "remove", text: "remove", title: `remove ${ev.key}`, onclick: () => {
      s.events.splice(s.events.indexOf(ev), 1); moveRecord("events", ev.key, null); edited(true);
    } })));
    body.append(tr);
  }
  t.append(body);
}

// The scenario's record of what happened (`record: {issues: {KEY: ...}, events: {KEY: ...}}`) names
// issues and events by key: a renamed one carries its entry along, a removed one takes it away.
function moveRecord(part, old, key) {
  const r = state.scenario && state.scenario.record;
  const h = r && r[part];
  if (!h || typeof h !== "object" || !(old in h) || old === key) return;
  if (key) h[key] = h[old];
  delete h[old];
}

function renameIssue(iss, key) {
  const old = iss.key;
  if (!key || key === old) { edited(true); return; }
  iss.key = key;
  for (const a of actorsOf(state.scenario)) {
    for (const part of ["positions", "salience"]) {
      if (a[part] && old in a[part]) { a[part][key] = a[part][old]; delete a[part][old]; }
    }
  }
  for (const ev of eventsOf(state.scenario)) {
    for (const part of ["positions", "salience"]) {
      const h = ev.changes && ev.changes[part];
      if (h && old in h) { h[key] = h[old]; delete h[old]; }
    }
  }
  moveRecord("issues", old, key);
  if (state.issue === old) state.issue = key;
  edited(true);
}

function renameActor(a, key) {
  const old = a.key;
  a.key = key;
  for (const ev of eventsOf(state.scenario)) if (ev.actor === old) ev.actor = key;
  edited(true);
}

function addIssue() {
  const s = state.scenario;
  if (!s) return;
  s.issues = Array.isArray(s.issues) ? s.issues : [];
  const key = uniqueKey("issue", issuesOf(s).map((i) => i.key));
  s.issues.push({ key, name: "Issue " + key.slice(5), scale: [0, 100] });
  const half = (s.salience_scale || 100) / 2;
  for (const a of actorsOf(s)) {
    a.positions = a.positions && typeof a.positions === "object" ? a.positions : {};
    a.salience = a.salience && typeof a.salience === "object" ? a.salience : {};
    a.positions[key] = 50;
    a.salience[key] = half;
  }
  state.issue = key;
  edited(true);
}

function removeIssue(iss) {
  const s = state.scenario;
  s.issues.splice(s.issues.indexOf(iss), 1);
  for (const a of actorsOf(s)) {
    if (a.positions) delete a.positions[iss.key];
    if (a.salience) delete a.salience[iss.key];
  }
  for (const ev of eventsOf(s)) {
    for (const part of ["positions", "salience"]) if (ev.changes && ev.changes[part]) delete ev.changes[part][iss.key];
  }
  moveRecord("issues", iss.key, null);
  state.issue = null;
  edited(true);
}

function addActor() {
  const s = state.scenario;
  if (!s) return;
  s.actors = Array.isArray(s.actors) ? s.actors : [];
  const key = uniqueKey("actor", actorsOf(s).map((a) => a.key));
  const half = (s.salience_scale || 100) / 2;
  const a = { key, name: "New actor " + key.slice(5), capability: 10, positions: {}, salience: {} };
  for (const i of issuesOf(s)) {
    const sc = i.scale || [0, 100];
    a.positions[i.key] = (Number(sc[0]) + Number(sc[1])) / 2;
    a.salience[i.key] = half;
  }
  s.actors.push(a);
  edited(true);
}

function addEvent() {
  const s = state.scenario;
  if (!s) return;
  s.events = Array.isArray(s.events) ? s.events : [];
  const key = uniqueKey("event", eventsOf(s).map((e) => e.key));
  const first = actorsOf(s)[0];
  s.events.push({ key, name: "Event " + key.slice(5), type: "change", round: 1, probability: 1,
    ...(first ? { actor: first.key } : {}), changes: { capability: first ? num(first.capability) || 10 : 10 } });
  edited(true);
}

function newScenario() {
  replaceScenario({ name: "New scenario", salience_scale: 100, issues: [], actors: [], events: [] }, "new scenario");
  validateNow();
}

// A field's change fires when it loses focus, which is also when a button is pressed down right after
// typing: drawing the editor again then would take that button away before its click. So while a
// mouse button is down the editor is drawn again only once it is released (after the click).
let pointerDown = false, renderPending = false;
document.addEventListener("mousedown", () => { pointerDown = true; }, true);
document.addEventListener("mouseup", () => {
  pointerDown = false;
  if (renderPending) setTimeout(() => { if (renderPending) renderEditor(); }, 0);
}, true);

function requestRender() {
  if (pointerDown) renderPending = true;
  else renderEditor();
}

function edited(rerender) {
  state.given = { scenario: state.scenario };
  if (rerender) requestRender();
  clearTimeout(state.validateTimer);
  state.validateTimer = setTimeout(validateNow, 250);
}

async function validateNow() {
  if (!state.scenario) return false;
  const r = await api("POST", "/api/validate", { scenario: state.scenario });
  if (r.ok) { clearProblems(); return true; }
  if (r.data && r.data.problems) showProblems(r.data.problems, r.data.targets, (state.problems && state.problems.near) || "#problems");
  return false;
}

// A scenario replaces the one in the editor: the results, advice and the choice in the scenario list
// belong to the old one and go.
function replaceScenario(scenario, label, given) {
  state.scenario = scenario;
  state.given = given || { scenario };
  state.issue = null;
  clearResults();
  const sel = $("#scenario-select");
  sel.querySelectorAll("option[data-own]").forEach((o) => o.remove());
  if (label) {
    sel.prepend(el("option", { value: "", "data-own": "1", text: label }));
    sel.value = "";
  }
  clearProblems();
  renderEditor();
}

function clearResults() {
  state.run = null;
  $("#results").hidden = true;
  $("#results").removeAttribute("data-run");
  for (const id of ["#summary", "#notes", "#moves", "#charts", "#run-label", "#advice-out"]) $(id).textContent = "";
}

// The edited scenario as a file: the server writes it (it refuses an invalid one, 422, shown beside
// the buttons and at the fields).
async function downloadScenario(fmt) {
  if (!state.scenario) return;
  const body = state.given && state.given.name ? { name: state.given.name } : { scenario: state.scenario };
  const h = authHeaders();
  h["Content-Type"] = "application/json";
  const r = await fetch("/api/export?format=" + encodeURIComponent(fmt), { method: "POST", headers: h, body: JSON.stringify(body) });
  if (!r.ok) {
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (data && data.problems) showProblems(data.problems, data.targets, "#export-problems");
    else showProblems([{ field: "download", reason: `the download failed (HTTP ${r.status})` }], null, "#export-problems", false);
    return;
  }
  const cd = r.headers.get("Content-Disposition") || "";
  const m = /filename="([^"]+)"/.exec(cd);
  saveBlob(await r.blob(), m ? m[1] : "scenario." + fmt);
}

// ---------------------------------------------------------------- advice

function fillAdviceChoices() {
  const s = state.scenario;
  const asel = $("#advice-actor"), isel = $("#advice-issue");
  const keepA = asel.value, keepI = isel.value;
  asel.textContent = "";
  isel.textContent = "";
  if (!s) return;
  for (const a of actorsOf(s)) asel.append(el("option", { value: a.key, text: a.name ? `${a.key} \u2014 ${a.name}` : a.key }));
  isel.append(el("option", { value: "", text: "every issue" }));
  for (const i of issuesOf(s)) isel.append(el("option", { value: i.key, text: i.name ? `${i.key} \u2014 ${i.name}` : i.key }));
  if ([...asel.options].some((o) => o.value === keepA)) asel.value = keepA;
  if ([...isel.options].some((o) => o.value === keepI)) isel.value = keepI;
}

// a share as a whole percentage, never a rounded 0 % or 100 % for something that happened in some draws
// (detente/numfmt.py fmt_percent)
function pct(x) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return "\u2013";
  const v = 100 * x;
  if (v > 0 && v < 0.5) return "<1%";
  if (v >= 99.5 && v < 100) return ">99%";
  return Math.round(v) + "%";
}
function signed(x, d = 1) { const t = fmt(x, d); return t === "\u2013" || t.startsWith("-") ? t : "+" + t; }

function showAdvice(adv) {
  // forecast, position, gain and "of the way" are medians over the draws (adv.statistic), as in the headline;
  // the 10-90% range and "helps in" describe the per-draw gains
  const out = $("#advice-out");
  out.textContent = "";
  const meta = adv.meta || {};
  const me = adv.actor_name || adv.actor;
  out.append(el("p", { class: "muted small", text: `model ${adv.model}, ${meta.draws} draws, seed ${meta.seed ?? 0}; ${adv.statistic || ""}` }));
  for (const [key, iss] of Object.entries(adv.issues)) {
    const d = iss.decimals;
    const box = el("div", { class: "advice-issue", "data-issue": key });
    box.append(el("h3", { text: `${iss.name || key}: forecast ${fmt(iss.forecast, d)}, ${me} wants ${fmt(iss.ideal, d)}` }));
    if (!iss.levers || !iss.levers.length) {
      box.append(el("p", { class: "note", text: "No lever moves this forecast toward the actor." }));
      out.append(box);
      continue;
    }
    const t = el("table", { class: "advice" });
    t.append(el("thead", {}, el("tr", {}, ...["lever", "pulled by", "forecast", "gain", "of the way", "10\u201390% of draws", "helps in"]
      .map((h) => el("th", { text: h })))));
    const tb = el("tbody");
    for (const l of iss.levers.slice(0, 8)) {
      tb.append(el("tr", { "data-kind": l.kind, "data-control": l.control },
        el("td", { text: l.lever }), el("td", { text: l.control, title: l.who || "" }),
        el("td", { class: "num", text: fmt(l.forecast, d) }),
        el("td", { class: "num gain", text: signed(l.gain, d) }),
        el("td", { class: "num", text: pct(l.share_of_distance) }),
        el("td", { class: "num", text: `${signed(l.gain_p10, d)} to ${signed(l.gain_p90, d)}` }),
        el("td", { class: "num", text: pct(l.p_helps) })));
    }
    t.append(tb);
    box.append(t);
    out.append(box);
  }
  for (const line of adv.headline || []) out.append(el("p", { class: "advice-headline", text: line }));
}

async function advise() {
  clearProblems();
  const body = runBody();
  delete body.sensitivity;
  delete body.compare;
  body.actor = $("#advice-actor").value;
  body.issue = $("#advice-issue").value || null;
  $("#advise").disabled = true;
  $("#advice-busy").hidden = false;
  try {
    const r = await api("POST", "/api/advice", body);
    if (r.ok) showAdvice(r.data.advice);
    else if (r.data && r.data.problems) showProblems(r.data.problems, r.data.targets, "#advice-problems", false);
    else showProblems([{ field: "advice", reason: (r.data && r.data.detail) || "the advice failed" }], null, "#advice-problems", false);
  } finally {
    $("#advise").disabled = false;
    $("#advice-busy").hidden = true;
  }
}

// ---------------------------------------------------------------- what happened (score, explain)

function recordBody() {
  const body = runBody();
  delete body.sensitivity;
  delete body.compare;
  const outcome = $("#record-outcome").value.trim();
  body.outcome = outcome || null;
  return body;
}

function showScore(sc) {
  const out = $("#score-out");
  out.textContent = "";
  const meta = sc.meta || {};
  out.append(el("p", { class: "muted small", text: `${meta.draws} draws per model, seed ${meta.seed ?? 0}; neighbourhood \u00b1${Math.round(100 * sc.neighbourhood)}% of each scale` }));
  const keys = Object.keys(sc.outcome);
  const t = el("table", { class: "score" });
  t.append(el("thead", {}, el("tr", {}, el("th", { text: "model" }),
    ...keys.map((k) => el("th", { text: `${sc.outcome[k].name || k} (recorded ${fmt(sc.outcome[k].value)})` })),
    el("th", { text: "mean abs. error" }))));
  const tb = el("tbody");
  for (const [m, r] of Object.entries(sc.models)) {
    const cells = keys.map((k) => {
      const x = r.issues[k];
      if (!x) return el("td", { text: "\u2013" });
      const median = x.most_likely !== undefined && x.most_likely !== null;
      const td = el("td", { class: "num" }, `${median ? "median " : ""}${fmt(x.forecast)} (${signed(x.error)})`);
      if (x.p_near !== undefined && x.p_near !== null) {
        td.append(el("span", { class: "why", text: `P(\u00b1${fmt(sc.outcome[k].radius)}) ${pct(x.p_near)}; band ${fmt(x.band_low)}\u2013${fmt(x.band_high)}` }));
      }
      if (median) td.append(el("span", { class: "why most-likely", text: `most likely branch ${fmt(x.most_likely)} (${signed(x.error_most_likely)})` }));
      return td;
    });
    tb.append(el("tr", { "data-model": m }, el("td", { text: m }), ...cells, el("td", { class: "num gain", text: fmt(r.mae) })));
  }
  t.append(tb);
  out.append(t);
  for (const [m, why] of Object.entries(sc.not_run || {})) out.append(el("p", { class: "note", text: `${m}: not run: ${why}` }));
  for (const line of sc.headline || []) out.append(el("p", { class: "small", text: line }));
  for (const note of meta.notes || []) out.append(el("p", { class: "note small", text: note }));
}

function showExplanation(ex) {
  const out = $("#explain-out");
  out.textContent = "";
  out.append(el("h3", { text: `What would have had to be different (${ex.model}): ${ex.status}` }));
  for (const line of ex.headline || []) out.append(el("p", { class: "small", text: line }));
  if (ex.changes && ex.changes.length) {
    const t = el("table", { class: "explain" });
    t.append(el("thead", {}, el("tr", {}, ...["#", "input", "from \u2192 to", "units", "inside the range"].map((h) => el("th", { text: h })))));
    const tb = el("tbody");
    for (const c of ex.changes) {
      tb.append(el("tr", { "data-input": c.input }, el("td", { class: "num", text: String(c.rank) }), el("td", { text: c.label }),
        el("td", { class: "num", text: `${fmt(c.from)} \u2192 ${fmt(c.to)}` }), el("td", { class: "num gain", text: signed(c.units) }),
        el("td", { text: c.inside_range ? "yes" : "no" })));
    }
    t.append(tb);
    out.append(t);
  }
  for (const n of (ex.meta && ex.meta.notes) || []) out.append(el("p", { class: "muted small", text: n }));
}

async function recordCall(path, show, what) {
  clearProblems();
  $("#score").disabled = $("#explain").disabled = true;
  $("#record-busy").hidden = false;
  try {
    const r = await api("POST", path, recordBody());
    if (r.ok) show(r.data);
    else if (r.data && r.data.problems) showProblems(r.data.problems, r.data.targets, "#record-problems", false);
    else showProblems([{ field: what, reason: (r.data && r.data.detail) || `the ${what} failed (HTTP ${r.status})` }], null, "#record-problems", false);
  } finally {
    $("#score").disabled = $("#explain").disabled = false;
    $("#record-busy").hidden = true;
  }
}

function addActor() {
  const s = state.scenario;
  if (!s) return;
  s.actors = Array.isArray(s.actors) ? s.actors : [];
  let n = s.actors.length + 1;
  while (s.actors.some((a) => a.key === "actor" + n)) n++;
  const half = (s.salience_scale || 100) / 2;
  const a = { key: "actor" + n, name: "New actor " + n, capability: 10, positions: {}, salience: {} };
  for (const i of issuesOf(s)) {
    const sc = i.scale || [0, 100];
    a.positions[i.key] = (sc[0] + sc[1]) / 2;
    a.salience[i.key] = half;
  }
  s.actors.push(a);
  edited(true);
}

function edited(rerender) {
  state.given = { scenario: state.scenario };
  if (rerender) renderEditor();
  clearTimeout(state.validateTimer);
  state.validateTimer = setTimeout(validateNow, 250);
}

async function validateNow() {
  const r = await api("POST", "/api/validate", { scenario: state.scenario });
  if (r.ok) { clearProblems(); return true; }
  if (r.data && r.data.problems) showProblems(r.data.problems, r.data.targets);
  return false;
}

// ---------------------------------------------------------------- loading scenarios

async function openShipped(name) {
  const r = await api("GET", "/api/scenarios/" + encodeURIComponent(name));
  if (!r.ok) { showProblems([{ field: "scenario", reason: (r.data && r.data.detail) || "cannot open" }], null, "#upload-problems", false); return; }
  replaceScenario(r.data.scenario, null, { name });
}

// Any file the scenario layer reads (YAML, JSON, a CSV/TSV table, KTAB CSV or XML, a Decide file, a
// workbook) is sent as it is; the server picks the reader by the file's suffix. A file that opens with
// problems replaces the scenario and shows them at their fields; one that cannot be read at all leaves
// the scenario as it was and says why beside the upload.
async function uploadFile(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  const r = await fetch("/api/upload", { method: "POST", headers: authHeaders(), body: form });
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (r.status === 401) { askToken(data && data.detail); return; }
  const label = "file: " + file.name;
  if (r.ok) {
    replaceScenario(data.scenario, label);
  } else if (data && data.problems) {
    if (data.raw && typeof data.raw === "object") replaceScenario(data.raw, label);
    showProblems(data.problems, data.targets, "#upload-problems");
  } else {
    const reason = r.status === 413 ? "the file is over the server's limit on a request body (detente serve --max-body)"
      : (data && data.detail) || `cannot read the file (HTTP ${r.status})`;
    showProblems([{ file: file.name, field: "", reason }], null, "#upload-problems", false);
  }
}

// ---------------------------------------------------------------- running

function runBody() {
  const seed = $("#seed").value.trim();
  const body = {
    ...(state.given && state.given.name ? { name: state.given.name } : { scenario: state.scenario }),
    model: $("#model").value || null,
    seed: seed === "" ? null : Number(seed),
    draws: Number($("#draws").value || 0),
    sensitivity: $("#sensitivity").checked,
    compare: [...$("#compare").selectedOptions].map((o) => ({ name: o.value })),
  };
  return body;
}

function setBusy(busy) {
  $("#run").disabled = busy;
  $("#cancel").hidden = !busy;
  $("#progress").hidden = !busy;
}

async function run() {
  clearProblems();
  const r = await api("POST", "/api/jobs", { kind: "forecast", ...runBody() });
  if (!r.ok) {
    if (r.data && r.data.problems) showProblems(r.data.problems, r.data.targets, "#run-problems");
    else showProblems([{ field: "", reason: (r.data && r.data.detail) || `the run was refused (HTTP ${r.status})` }], null, "#run-problems", false);
    return;
  }
  state.job = r.data.id;
  setBusy(true);
  poll(r.data.id);
}

async function poll(id) {
  const r = await api("GET", "/api/jobs/" + encodeURIComponent(id));
  if (!r.ok) { setBusy(false); return; }
  const j = r.data;
  $("#progress .fill").style.width = Math.round(100 * j.progress) + "%";
  $("#progress .msg").textContent = j.message;
  if (j.status === "queued" || j.status === "running") { setTimeout(() => poll(id), 250); return; }
  setBusy(false);
  state.job = null;
  if (j.status === "done") { await openRun(j.run_id, false); await refreshRuns(); }
  else if (j.status === "failed") {
    if (j.problems.length) showProblems(j.problems, null, "#run-problems");
    else showProblems([{ field: "", reason: j.error || "the run failed" }], null, "#run-problems", false);
  } else if (j.status === "cancelled") showProblems([{ field: "", reason: "the run was cancelled" }], null, "#run-problems", false);
  else if (j.status === "interrupted") showProblems([{ field: "", reason: j.message || "the run was interrupted" }], null, "#run-problems", false);
}

async function cancel() {
  if (state.job) await api("DELETE", "/api/jobs/" + encodeURIComponent(state.job));
}

// digits follow the issue's scale: the server sends each issue's "decimals" (detente/numfmt.py)
function fmt(x, d = 1) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return "\u2013";
  const t = Number(x).toFixed(d);
  return Number(t) === 0 ? t.replace(/^-/, "") : t;
}

function stabilityText(st, decimals) {
  if (!st) return "";
  const median = st.statistic === "median";
  if (!st.unstable) {
    if (median) return st.draws_moving >= 0.1 ? `stable (${Math.round(100 * st.draws_moving)}% of draws move)` : "stable";
    return st.settled_at !== null && st.settled_at !== undefined ? "settled" : "stable";
  }
  const cyc = st.cycle_length ? (median ? `alternates (period ${st.cycle_length}); ` : `cycles (period ${st.cycle_length}); `) : "";
  const what = median ? "medians after rounds" : "after rounds";
  return `unstable: ${cyc}${fmt(st.horizon_range[0], decimals)} \u2013 ${fmt(st.horizon_range[1], decimals)} ${what} ${st.horizons[0]}\u2013${st.horizons[1]}`;
}

function showRun(run) {
  state.run = run;
  const res = run.results;
  $("#results").hidden = false;
  $("#results").setAttribute("data-run", run.id);
  $("#run-label").textContent = `\u2014 ${res.scenario.name}, model ${res.meta.model}, run ${run.id}`;
  $("#dl-report").dataset.path = `/api/runs/${encodeURIComponent(run.id)}/report`;
  $("#dl-json").dataset.path = `/api/runs/${encodeURIComponent(run.id)}/json`;
  $("#dl-csv").dataset.path = `/api/runs/${encodeURIComponent(run.id)}/csv`;
  const t = $("#summary");
  t.textContent = "";
  const mc = res.summary.some((r) => r.p50 !== undefined);
  const branch = res.summary.some((r) => r.most_likely !== undefined);
  const stab = res.summary.some((r) => r.stability !== undefined);
  const head = el("tr", {}, el("th", { text: "issue" }), el("th", { text: mc ? "forecast (median of draws)" : "forecast" }),
    el("th", { text: "track record 80%" }), el("th", { text: "meaning" }));
  if (mc) head.append(el("th", { text: "input band: 5\u201395% of draws" }));
  if (branch) head.append(el("th", { text: "most likely branch" }));
  if (stab) head.append(el("th", { text: mc ? "stability (median)" : "stability" }));
  t.append(el("thead", {}, head));
  const tb = el("tbody");
  for (const r of res.summary) {
    const band = r.track_record ? `${fmt(r.track_record[0], r.decimals)} \u2013 ${fmt(r.track_record[1], r.decimals)}` : "none";
    const tr = el("tr", { "data-issue": r.issue }, el("td", { text: r.name }),
      el("td", { class: "num forecast", text: fmt(r.forecast, r.decimals) }), el("td", { class: "num track-record", text: band }),
      el("td", { text: r.label || "" }));
    if (mc) tr.append(el("td", { text: r.p5 === undefined ? "" : `${fmt(r.p5, r.decimals)} \u2013 ${fmt(r.p95, r.decimals)}` }));
    if (branch) tr.append(el("td", { class: "num most-likely", text: r.most_likely === undefined ? "" : fmt(r.most_likely, r.decimals) }));
    if (stab) tr.append(el("td", { class: "stability", text: stabilityText(r.stability, r.decimals) }));
    tb.append(tr);
  }
  t.append(tb);
  const notes = $("#notes");
  notes.textContent = "";
  if (res.bands_note) notes.append(el("p", { class: "note bands-note", text: res.bands_note }));
  for (const n of res.notes) notes.append(el("p", { class: "note", text: n }));
  showMoves(res.moves || [], res.inputs ? res.inputs.actors : [], res.inputs ? res.inputs.issues : []);
  const charts = $("#charts");
  charts.textContent = "";
  for (const c of res.charts) {
    // the server's SVG is shown as an image: it cannot run script or touch the page, and its own
    // styles apply inside the image only (the page's Content-Security-Policy allows no inline style)
    const img = el("img", { class: "chart", alt: c.title, src: "data:image/svg+xml;charset=utf-8," + encodeURIComponent(c.svg) });
    const fig = el("figure", { "data-chart": c.id }, img);
    fig.append(el("figcaption", { text: c.title }));
    charts.append(fig);
  }
}

function showMoves(moves, actors, issues) {
  const box = $("#moves");
  box.textContent = "";
  if (!moves.length) return;
  const names = Object.fromEntries(actors.map((a) => [a.key, a.name || a.key]));
  const issueOf = Object.fromEntries((issues || []).map((i) => [i.key, i]));
  const shown = moves.slice(0, 40);
  box.append(el("h3", { text: "Who moved whom" }));
  const t = el("table", { class: "moves" });
  t.append(el("thead", {}, el("tr", {}, ...["round", "actor", "issue", "position", "why"].map((h) => el("th", { text: h })))));
  const tb = el("tbody");
  for (const m of shown) {
    tb.append(el("tr", { "data-actor": m.actor, "data-issue": m.issue },
      el("td", { class: "num", text: m.round }), el("td", { text: names[m.actor] || m.actor }),
      el("td", { text: (issueOf[m.issue] || {}).name || m.issue }),
      el("td", { class: "num", text: `${fmt(m.from, (issueOf[m.issue] || {}).decimals)} \u2192 ${fmt(m.to, (issueOf[m.issue] || {}).decimals)}` }), el("td", { text: m.why || "" })));
  }
  t.append(tb);
  box.append(t);
  if (moves.length > shown.length) box.append(el("p", { class: "muted small", text: `The first ${shown.length} of ${moves.length} moves; the JSON download lists every one.` }));
}

async function openRun(id, loadScenario) {
  const r = await api("GET", "/api/runs/" + encodeURIComponent(id));
  if (!r.ok) { showProblems([{ field: "run", reason: (r.data && r.data.detail) || "not found" }], null, "#run-problems", false); return; }
  if (loadScenario && r.data.results.scenario_input) {
    const g = r.data.scenario;
    const named = g && g.name && [...$("#scenario-select").options].some((o) => o.value === g.name && !o.dataset.own);
    replaceScenario(r.data.results.scenario_input, named ? null : "run " + id, named ? { name: g.name } : null);
    if (named) $("#scenario-select").value = g.name;
  }
  showRun(r.data);
}

async function refreshRuns() {
  const r = await api("GET", "/api/runs");
  const t = $("#runs");
  t.textContent = "";
  if (!r.ok) return;
  t.append(el("thead", {}, el("tr", {}, ...["when", "scenario", "model", "draws", "seed", "id", ""].map((h) => el("th", { text: h })))));
  const tb = el("tbody");
  for (const run of r.data) {
    tb.append(el("tr", { "data-run": run.id },
      el("td", { text: run.created.replace("T", " ").slice(0, 19) }), el("td", { text: run.name }),
      el("td", { text: run.model }), el("td", { text: run.draws }), el("td", { text: run.seed ?? "" }),
      el("td", {}, el("code", { text: run.id })),
      el("td", {},
        el("button", { text: "open", class: "open-run", onclick: () => openRun(run.id, true) }), " ",
        el("button", { text: "delete", onclick: async () => { await api("DELETE", "/api/runs/" + encodeURIComponent(run.id)); refreshRuns(); } }))));
  }
  t.append(tb);
}

// ---------------------------------------------------------------- start

let wired = false;

function wire() {
  if (wired) return;
  wired = true;
  $("#scenario-select").addEventListener("change", () => { const v = $("#scenario-select").value; if (v) openShipped(v); });
  $("#upload").addEventListener("change", (e) => { if (e.target.files[0]) uploadFile(e.target.files[0]); e.target.value = ""; });
  $("#run").addEventListener("click", run);
  $("#cancel").addEventListener("click", cancel);
  $("#add-actor").addEventListener("click", addActor);
  $("#add-event").addEventListener("click", addEvent);
  $("#new-scenario").addEventListener("click", newScenario);
  $("#scenario-title").addEventListener("change", () => {
    if (!state.scenario) return;
    state.scenario.name = $("#scenario-title").value;
    $("#scenario-name").textContent = state.scenario.name ? "\u2014 " + state.scenario.name : "";
    edited(false);
  });
  for (const b of document.querySelectorAll("button.export")) b.addEventListener("click", () => downloadScenario(b.dataset.format));
  $("#advise").addEventListener("click", advise);
  $("#score").addEventListener("click", () => recordCall("/api/score", (d) => showScore(d.score), "score"));
  $("#explain").addEventListener("click", () => recordCall("/api/explain", (d) => showExplanation(d.explanation), "explain"));
  $("#token-use").addEventListener("click", useToken);
  $("#token").addEventListener("keydown", (e) => { if (e.key === "Enter") useToken(); });
  for (const [id, ext] of [["#dl-report", "html"], ["#dl-json", "json"], ["#dl-csv", "csv"]]) {
    $(id).addEventListener("click", (e) => {
      e.preventDefault();
      if (state.run) download($(id).dataset.path, `detente-${state.run.id}.${ext}`);
    });
  }
}

async function init() {
  wire();
  const [sc, md, hl] = await Promise.all([api("GET", "/api/scenarios"), api("GET", "/api/models"), api("GET", "/api/health")]);
  if (sc.status === 401 || md.status === 401) return;  // the page asks for the token, then starts again
  const exports = (hl.data && hl.data.exports) || [];
  for (const b of document.querySelectorAll("button.export")) b.hidden = !exports.includes(b.dataset.format);
  const sel = $("#scenario-select");
  sel.textContent = "";
  $("#compare").textContent = "";
  $("#model").textContent = "";
  let flagship = null;
  for (const s of sc.data || []) {
    sel.append(el("option", { value: s.name, text: `${s.name} \u2014 ${s.title}` }));
    $("#compare").append(el("option", { value: s.name, text: s.name }));
    if (s.flagship) flagship = s.name;
  }
  const msel = $("#model");
  msel.append(el("option", { value: "", text: "scenario's choice" }));
  for (const m of md.data || []) msel.append(el("option", { value: m.name, text: m.name, title: m.summary }));
  const first = flagship || (sc.data && sc.data[0] && sc.data[0].name);
  if (first) { sel.value = first; await openShipped(first); }
  await refreshRuns();
  document.body.setAttribute("data-ready", "1");
}

init();
