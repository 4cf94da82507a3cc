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
  if (!r.ok) { showProblems([{ field: "download", reason: `the download failed (HTTP ${r.status})` }]); return; }
  const url = URL.createObjectURL(await r.blob());
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---------------------------------------------------------------- problems

function problemText(p) {
  let where = p.file || "";
  if (p.line) where += ":" + p.line;
  return (where ? where + ": " : "") + (p.field ? p.field + ": " : "") + p.reason;
}

function clearProblems() {
  const box = $("#problems");
  box.hidden = true;
  box.textContent = "";
  document.querySelectorAll(".field-error").forEach((e) => e.remove());
  document.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
}

function showProblems(problems, targets) {
  clearProblems();
  if (!problems || !problems.length) return;
  const box = $("#problems");
  box.hidden = false;
  box.append(el("b", { text: `${problems.length} problem${problems.length > 1 ? "s" : ""} found:` }));
  const ul = el("ul");
  problems.forEach((p, i) => {
    ul.append(el("li", { text: problemText(p) }));
    const field = (targets && targets[i]) || p.field;
    const input = field ? document.querySelector(`[data-field="${CSS.escape(field)}"]`) : null;
    if (input) {
      input.classList.add("invalid");
      input.closest("td").classList.add("invalid");
      input.closest("td").append(el("span", { class: "field-error", "data-for": field, text: p.reason }));
    }
  });
  box.append(ul);
}

// ---------------------------------------------------------------- the stakeholder table

function num(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return v.value === undefined ? "" : v.value;
  return v;
}

function setValue(holder, key, text) {
  const x = text.trim() === "" ? null : (isNaN(Number(text)) ? text : Number(text));
  const old = holder[key];
  if (old && typeof old === "object" && !Array.isArray(old)) {
    old.value = x;
    // keep an uncertainty range around the new point value
    if (typeof x === "number" && typeof old.low === "number" && typeof old.high === "number") {
      old.low = Math.min(old.low, x);
      old.high = Math.max(old.high, x);
    }
  } else holder[key] = x;
}

function issuesOf(s) { return Array.isArray(s.issues) ? s.issues.filter((i) => i && typeof i === "object") : []; }
function actorsOf(s) { return Array.isArray(s.actors) ? s.actors.filter((a) => a && typeof a === "object") : []; }

function renderEditor() {
  const s = state.scenario;
  const t = $("#actors-table");
  t.textContent = "";
  if (!s) return;
  $("#scenario-name").textContent = s.name ? "\u2014 " + s.name : "";
  const issues = issuesOf(s);
  const head = el("tr", {}, el("th", { text: "key" }), el("th", { text: "name" }), el("th", { text: "capability" }));
  for (const i of issues) {
    head.append(el("th", { text: `${i.key}: position`, title: i.name || i.key }));
    head.append(el("th", { text: `${i.key}: salience` }));
  }
  head.append(el("th"));
  t.append(el("thead", {}, head));
  const body = el("tbody");
  actorsOf(s).forEach((a, n) => {
    const k = a.key;
    a.positions = a.positions && typeof a.positions === "object" ? a.positions : {};
    a.salience = a.salience && typeof a.salience === "object" ? a.salience : {};
    const tr = el("tr", { "data-actor": k });
    const keyInput = el("input", { class: "key", value: k ?? "", "data-field": `actors[${k}].key`, "aria-label": "actor key" });
    keyInput.addEventListener("change", () => { a.key = keyInput.value.trim(); edited(true); });
    const sw = el("span", { class: "swatch" });
    sw.style.backgroundColor = safeColor(a.color) || "#999";
    tr.append(el("td", {}, sw, keyInput));
    const nameInput = el("input", { class: "name", value: a.name ?? "", "data-field": `actors[${k}].name`, "aria-label": "actor name" });
    nameInput.addEventListener("change", () => { a.name = nameInput.value; edited(false); });
    tr.append(el("td", {}, nameInput));
    const cell = (holder, key, field, label) => {
      const inp = el("input", { value: num(holder[key]), "data-field": field, "aria-label": label, inputmode: "decimal" });
      inp.addEventListener("change", () => { setValue(holder, key, inp.value); edited(false); });
      const why = holder[key] && typeof holder[key] === "object" && holder[key].why;
      if (why) inp.title = why;
      return el("td", {}, inp);
    };
    tr.append(cell(a, "capability", `actors[${k}].capability`, `${k} capability`));
    for (const i of issues) {
      tr.append(cell(a.positions, i.key, `actors[${k}].positions.${i.key}`, `${k} position on ${i.key}`));
      tr.append(cell(a.salience, i.key, `actors[${k}].salience.${i.key}`, `${k} salience on ${i.key}`));
    }
    tr.append(el("td", {}, el("button", { text: "remove", title: `remove ${k}`, onclick: () => {
      s.actors.splice(s.actors.indexOf(a), 1); edited(true);
    } })));
    body.append(tr);
  });
  t.append(body);
  fillAdviceChoices();
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

function pct(x) { return x === null || x === undefined ? "\u2013" : Math.round(100 * x) + "%"; }
function signed(x, d = 1) { const t = fmt(x, d); return t === "\u2013" || t.startsWith("-") ? t : "+" + t; }

function showAdvice(adv) {
  const out = $("#advice-out");
  out.textContent = "";
  const meta = adv.meta || {};
  out.append(el("p", { class: "muted small", text: `model ${adv.model}, ${meta.draws} draws, seed ${meta.seed ?? 0}` }));
  for (const [key, iss] of Object.entries(adv.issues)) {
    const box = el("div", { class: "advice-issue", "data-issue": key });
    box.append(el("h3", { text: `${key}: forecast ${fmt(iss.forecast)}, ${adv.actor} wants ${fmt(iss.ideal)}` }));
    if (!iss.levers || !iss.levers.length) {
      box.append(el("p", { class: "note", text: "No lever moves this forecast toward the actor." }));
      out.append(box);
      continue;
    }
    const t = el("table", { class: "advice" });
    t.append(el("thead", {}, el("tr", {}, ...["lever", "gain", "of the way", "10\u201390% of draws", "helps in"].map((h) => el("th", { text: h })))));
    const tb = el("tbody");
    for (const l of iss.levers.slice(0, 8)) {
      tb.append(el("tr", { "data-kind": l.kind },
        el("td", { text: l.lever }), el("td", { class: "num gain", text: signed(l.gain_mean) }),
        el("td", { class: "num", text: pct(l.share_of_distance) }),
        el("td", { class: "num", text: `${signed(l.gain_p10)} to ${signed(l.gain_p90)}` }),
        el("td", { class: "num", text: pct(l.p_helps) })));
    }
    t.append(tb);
    box.append(t);
    out.append(box);
  }
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
    else if (r.data && r.data.problems) showProblems(r.data.problems, r.data.targets);
    else showProblems([{ field: "advice", reason: (r.data && r.data.detail) || "the advice failed" }]);
  } finally {
    $("#advise").disabled = false;
    $("#advice-busy").hidden = true;
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
  if (!r.ok) { showProblems([{ field: "scenario", reason: (r.data && r.data.detail) || "cannot open" }]); return; }
  state.scenario = r.data.scenario;
  state.given = { name };
  renderEditor();
  clearProblems();
}

async function uploadFile(file) {
  const text = await file.text();
  const r = await api("POST", "/api/validate", { text, filename: file.name });
  if (r.ok) {
    state.scenario = r.data.scenario;
    state.given = { scenario: r.data.scenario };
    renderEditor();
    clearProblems();
  } else if (r.data && r.data.problems) {
    if (r.data.raw && typeof r.data.raw === "object") {
      state.scenario = r.data.raw;
      state.given = { scenario: r.data.raw };
      renderEditor();
    }
    showProblems(r.data.problems, r.data.targets);
  } else {
    showProblems([{ file: file.name, field: "", reason: r.status === 413 ? "the file is over 5 MB" : "cannot read the file" }]);
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
    if (r.data && r.data.problems) showProblems(r.data.problems, r.data.targets);
    else showProblems([{ field: "", reason: (r.data && r.data.detail) || `the run was refused (HTTP ${r.status})` }]);
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
  else if (j.status === "failed") showProblems(j.problems.length ? j.problems : [{ field: "", reason: j.error || "the run failed" }]);
  else if (j.status === "cancelled") showProblems([{ field: "", reason: "the run was cancelled" }]);
  else if (j.status === "interrupted") showProblems([{ field: "", reason: j.message || "the run was interrupted" }]);
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
  if (!st.unstable) return st.settled_at !== null && st.settled_at !== undefined ? "settled" : "stable";
  const cyc = st.cycle_length ? `cycles (period ${st.cycle_length}); ` : "";
  return `unstable: ${cyc}${fmt(st.horizon_range[0], decimals)} \u2013 ${fmt(st.horizon_range[1], decimals)} after rounds ${st.horizons[0]}\u2013${st.horizons[1]}`;
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
  if (stab) head.append(el("th", { text: mc ? "stability (most likely branch)" : "stability" }));
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
  if (!r.ok) { showProblems([{ field: "run", reason: (r.data && r.data.detail) || "not found" }]); return; }
  showRun(r.data);
  if (loadScenario && r.data.results.scenario_input) {
    state.scenario = r.data.results.scenario_input;
    const g = r.data.scenario;
    state.given = g && g.name ? { name: g.name } : { scenario: state.scenario };
    renderEditor();
    clearProblems();
  }
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
  $("#scenario-select").addEventListener("change", () => openShipped($("#scenario-select").value));
  $("#upload").addEventListener("change", (e) => { if (e.target.files[0]) uploadFile(e.target.files[0]); e.target.value = ""; });
  $("#run").addEventListener("click", run);
  $("#cancel").addEventListener("click", cancel);
  $("#add-actor").addEventListener("click", addActor);
  $("#advise").addEventListener("click", advise);
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
  const [sc, md] = await Promise.all([api("GET", "/api/scenarios"), api("GET", "/api/models")]);
  if (sc.status === 401 || md.status === 401) return;  // the page asks for the token, then starts again
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
