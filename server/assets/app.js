// pytest-live-pause dashboard: the pending pauses of every run, live over
// the event stream (/api/events), a pause's detail and the forms that
// answer it, and the run list. Every value from a test or a person is
// data: it is set with textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let pauses = new Map(); // pause_id -> pause object (as `ls --json`)
let selected = null;    // pause_id shown in the detail panel
let current = null;     // its object (as `show --json`)

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function api(path, opts) {
  const init = Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, opts || {});
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    return { status: 0, ok: false, body: { error: { code: "network", message: "the server cannot be reached" } } };
  }
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  return { status: r.status, ok: r.ok, body };
}

function ago(ts) {
  if (!ts) return "";
  const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
}

function when(ts) {
  return ts ? new Date(ts * 1000).toLocaleString() : "";
}

function renderList() {
  const ul = $("pauses");
  ul.replaceChildren();
  const list = [...pauses.values()].sort((a, b) => (a.created_at || 0) - (b.created_at || 0));
  for (const p of list) {
    const li = el("li");
    li.dataset.pauseId = p.pause_id;
    const b = el("button");
    b.type = "button";
    b.setAttribute("aria-current", p.pause_id === selected ? "true" : "false");
    const top = el("span");
    top.append(el("span", p.kind, "kind " + p.kind), el("span", p.nodeid, "nodeid"));
    b.append(top, el("span", (p.hostname || "") + " pid " + (p.pid || "") +
      (p.worker_id ? " " + p.worker_id : "") + " · " + ago(p.created_at), "meta"));
    b.addEventListener("click", () => select(p.pause_id));
    li.append(b);
    ul.append(li);
  }
  $("count").textContent = list.length ? "(" + list.length + ")" : "";
  $("empty").hidden = list.length > 0;
}

function renderRuns(runs) {
  const tb = $("runs").tBodies[0];
  tb.replaceChildren();
  for (const r of runs.slice().reverse()) {
    const tr = el("tr");
    tr.dataset.runId = r.run_id;
    const st = el("td", r.state, "state-" + r.state);
    tr.append(el("td", r.run_id), st, el("td", r.hostname), el("td", r.pid), el("td", when(r.started_at)));
    tb.append(tr);
  }
}

function field(dl, name, value) {
  if (value === undefined || value === null || value === "") return;
  dl.append(el("dt", name), el("dd", value));
}

function showOutcome(text, cls) {
  const o = $("outcome");
  o.textContent = text;
  o.className = "outcome " + (cls || "");
}

function renderDetail(p) {
  current = p;
  $("detail").hidden = false;
  $("d-title").textContent = p.nodeid || p.pause_id;
  const dl = $("d-fields");
  dl.replaceChildren();
  field(dl, "state", p.state);
  field(dl, "kind", p.kind);
  field(dl, "pause id", p.pause_id);
  field(dl, "run", p.run_id);
  field(dl, "host", p.hostname);
  field(dl, "pid", p.pid);
  field(dl, "worker", p.worker_id);
  field(dl, "paused", when(p.created_at) + " (" + ago(p.created_at) + ")");
  field(dl, "timeout", p.timeout ? p.timeout + " s" : "none");
  field(dl, "directory", p.cwd);
  field(dl, "pause file", p.path);
  field(dl, "resolved by", p.resolved_by);
  field(dl, "failure reason", p.failure_reason);
  if (p.kind === "checkpoint" && p.state !== "pending" && "result" in p)
    field(dl, "result", p.result === null ? "none" : String(p.result));
  field(dl, "reason", p.reason);
  const fail = p.original_failure;
  $("d-failure").hidden = $("d-failure-title").hidden = !fail;
  $("d-failure").textContent = fail || "";
  $("d-task").hidden = $("d-task-title").hidden = !p.task;
  $("d-task").textContent = p.task || "";
  const open = p.state === "pending";
  $("f-failure").hidden = !(open && p.kind === "failure");
  $("f-checkpoint").hidden = !(open && p.kind === "checkpoint");
  $("f-abort").hidden = !open;
}

async function select(id) {
  selected = id;
  renderList();
  showOutcome("");
  const r = await api("/api/pauses/" + encodeURIComponent(id));
  if (r.ok) renderDetail(r.body);
  else showOutcome(errorText(r), "error");
}

function errorText(r) {
  const e = r.body && r.body.error;
  return e ? e.message + " (" + e.code + ")" : "HTTP " + r.status;
}

async function post(action, body) {
  if (!current) return;
  const id = current.pause_id;
  showOutcome(action === "abort" ? "aborting…" : "resuming…");
  const r = await api("/api/pauses/" + encodeURIComponent(id) + "/" + action, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  if (r.ok) {
    showOutcome(action === "abort" ? "Aborted: the test ends." : "Resumed: the test goes on.", "done");
    pauses.delete(id);
    renderList();
    const d = await api("/api/pauses/" + encodeURIComponent(id));
    if (d.ok && selected === id) renderDetail(d.body);
  } else {
    showOutcome(errorText(r), "error");
  }
}

async function refresh() {
  const r = await api("/api/pauses");
  if (r.ok) {
    pauses = new Map(r.body.pauses.map((p) => [p.pause_id, p]));
    renderList();
  }
  const rr = await api("/api/runs");
  if (rr.ok) renderRuns(rr.body.runs);
}

function onEvent(type, e) {
  let d;
  try { d = JSON.parse(e.data); } catch (err) { return; }
  if (type === "pause_created" && d.state === "pending") {
    pauses.set(d.pause_id, d);
    renderList();
  } else if (type === "pause_ended") {
    pauses.delete(d.pause_id);
    renderList();
    if (selected === d.pause_id) renderDetail(d);
  } else {
    api("/api/runs").then((rr) => { if (rr.ok) renderRuns(rr.body.runs); });
  }
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => {
    $("status").textContent = "live";
    $("status").className = "status live";
    refresh(); // whatever happened while not connected
  });
  es.addEventListener("error", () => {
    $("status").textContent = "reconnecting…";
    $("status").className = "status";
  });
  for (const t of ["pause_created", "pause_ended", "run_started", "run_ended"])
    es.addEventListener(t, (e) => onEvent(t, e));
}

document.addEventListener("DOMContentLoaded", () => {
  $("f-failure").addEventListener("submit", (e) => {
    e.preventDefault();
    post("resume", { failure_reason: $("failure-reason").value });
  });
  $("f-checkpoint").addEventListener("submit", (e) => {
    e.preventDefault();
    const checked = document.querySelector('input[name="result"]:checked');
    if (!checked) { showOutcome("choose a result first", "error"); return; }
    const result = checked.value === "null" ? null : checked.value === "true";
    const reason = $("checkpoint-reason").value;
    post("resume", reason ? { result, reason } : { result });
  });
  $("f-abort").addEventListener("submit", (e) => {
    e.preventDefault();
    post("abort", {});
  });
  setInterval(renderList, 30000); // the ages
  refresh();
  connect();
});
