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

function progressText(p) {
  if (!p) return "";
  const parts = [p.passed + " passed", p.failed + " failed"];
  if (p.errors) parts.push(p.errors + " errors");
  if (p.skipped) parts.push(p.skipped + " skipped");
  if (p.xfailed) parts.push(p.xfailed + " xfailed");
  if (p.xpassed) parts.push(p.xpassed + " xpassed");
  const done = p.passed + p.failed + p.skipped + p.xfailed + p.xpassed;
  return parts.join(" · ") + (p.collected ? " (" + done + " of " + p.collected + ")" : "");
}

let liveRuns = false; // a run is active: its progress is fetched again

function renderRuns(runs) {
  const tb = $("runs").tBodies[0];
  tb.replaceChildren();
  liveRuns = false;
  for (const r of runs.slice().reverse()) {
    const tr = el("tr");
    tr.dataset.runId = r.run_id;
    if (r.state === "active") liveRuns = true;
    const st = el("td", r.state, "state-" + r.state);
    const pr = el("td", progressText(r.progress), "progress");
    if (r.progress && r.progress.failed) pr.classList.add("has-failed");
    tr.append(el("td", r.run_id), st, pr, el("td", r.hostname), el("td", r.pid),
      el("td", when(r.started_at)));
    tb.append(tr);
  }
}

async function refreshRuns() {
  const rr = await api("/api/runs");
  if (rr.ok) renderRuns(rr.body.runs);
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

function attachmentUrl(p, a) {
  return "/api/pauses/" + encodeURIComponent(p.pause_id) + "/attachments/" + encodeURIComponent(a.sha256);
}

const INLINE = ["image/png", "image/jpeg", "image/gif", "image/webp"];

function renderAttachments(p) {
  const ul = $("d-attachments");
  ul.replaceChildren();
  const list = p.attachments || [];
  for (const a of list) {
    const li = el("li");
    const meta = " (" + (a.content_type || "") + ", " + a.size + " bytes, from " + a.source + ")";
    if (a.blob && a.blob !== "ok") {
      // never a link to bytes the server will not serve
      li.append(el("span", a.name), el("span", meta, "meta"),
        el("span", " blob " + a.blob + ": not served", "bad"));
    } else if (INLINE.includes(a.content_type)) {
      const img = el("img");
      img.src = attachmentUrl(p, a);
      img.alt = a.name;
      img.className = "shot";
      const link = el("a", a.name);
      link.href = attachmentUrl(p, a);
      link.target = "_blank";
      link.rel = "noopener";
      li.append(img, link, el("span", meta, "meta"));
    } else {
      const link = el("a", a.name);
      link.href = attachmentUrl(p, a);
      link.download = a.name;
      li.append(link, el("span", meta, "meta"));
    }
    ul.append(li);
  }
  ul.hidden = $("d-attachments-title").hidden = list.length === 0;
}

function renderChoices(p) {
  const fs = $("choices");
  fs.replaceChildren(el("legend", "Answer (one of the choices)"));
  (p.choices || []).forEach((c, k) => {
    const label = el("label");
    const input = el("input");
    input.type = "radio";
    input.name = "choice";
    input.value = c;
    input.id = "choice-" + k;
    label.append(input, document.createTextNode(" " + c));
    fs.append(label);
  });
}

function renderDetail(p) {
  const same = current && current.pause_id === p.pause_id;
  current = p;
  $("detail").hidden = false;
  $("d-title").textContent = p.nodeid || p.pause_id;
  const dl = $("d-fields");
  dl.replaceChildren();
  field(dl, "state", p.state);
  field(dl, "kind", p.kind);
  field(dl, "pause id", p.pause_id);
  field(dl, "run", p.run_id);
  field(dl, "location", p.location);
  field(dl, "host", p.hostname);
  field(dl, "pid", p.pid);
  field(dl, "worker", p.worker_id);
  field(dl, "paused", when(p.created_at) + " (" + ago(p.created_at) + ")");
  field(dl, "timeout", p.timeout ? p.timeout + " s" : "none");
  if (p.choices && p.choices.length) field(dl, "choices", p.choices.join(" | "));
  field(dl, "directory", p.cwd);
  field(dl, "pause file", p.path);
  field(dl, "resolved by", p.resolved_by);
  field(dl, "failure reason", p.failure_reason);
  if (p.kind === "checkpoint" && p.state !== "pending" && "result" in p)
    field(dl, "result", p.result === null ? "none" : String(p.result));
  field(dl, "value", p.value);
  field(dl, "reason", p.reason);
  const fail = p.original_failure;
  $("d-failure").hidden = $("d-failure-title").hidden = !fail;
  $("d-failure").textContent = fail || "";
  $("d-task").hidden = $("d-task-title").hidden = !p.task;
  $("d-task").textContent = p.task || "";
  $("d-question").hidden = $("d-question-title").hidden = !p.question;
  $("d-question").textContent = p.question || "";
  renderAttachments(p);
  const open = p.state === "pending";
  const choices = !!(p.choices && p.choices.length);
  $("f-failure").hidden = !(open && p.kind === "failure");
  $("f-checkpoint").hidden = !(open && p.kind === "checkpoint" && !choices);
  $("f-value").hidden = !(open && (p.kind === "question" || choices));
  $("choices").hidden = !choices;
  $("value-text").hidden = $("value-label").hidden = choices;
  if (!same) {
    renderChoices(p);
    for (const id of ["failure-reason", "checkpoint-reason", "value-text", "value-reason", "abort-reason"])
      $(id).value = "";
  }
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
    showOutcome(action === "abort" ? "Aborted: the test ends and the run stops." : "Resumed: the test goes on.", "done");
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
  await refreshRuns();
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
    refreshRuns();
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
  $("f-value").addEventListener("submit", (e) => {
    e.preventDefault();
    let value;
    if (current && current.choices && current.choices.length) {
      const checked = document.querySelector('input[name="choice"]:checked');
      if (!checked) { showOutcome("choose one of the choices first", "error"); return; }
      value = checked.value;
    } else {
      value = $("value-text").value;
    }
    const reason = $("value-reason").value;
    post("resume", reason ? { value, reason } : { value });
  });
  $("f-abort").addEventListener("submit", (e) => {
    e.preventDefault();
    const reason = $("abort-reason").value;
    post("abort", reason ? { reason } : {});
  });
  // an error shown is about what was sent: gone once the form changes
  const clearError = () => { if ($("outcome").classList.contains("error")) showOutcome(""); };
  $("detail").addEventListener("input", clearError);
  $("detail").addEventListener("change", clearError);
  setInterval(renderList, 30000); // the ages
  // the progress of active runs (written at most once a second by pytest)
  setInterval(() => { if (liveRuns && !document.hidden) refreshRuns(); }, 2000);
  refresh();
  connect();
});
