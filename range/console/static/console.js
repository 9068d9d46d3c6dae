// The console's live pages: draw lanes on their maps from the console's WebSocket, send the
// instructor's commands without reloading, and scrub saved runs. Plain JS, no build step.
"use strict";
const csrf = document.body.dataset.csrf;
const lanes = {};

function drawMap(canvas, s) {
  const ctx = canvas.getContext("2d");
  const [len, wid] = s.lane_ft || [60, 20];
  const sx = canvas.width / (len + 4), sy = canvas.height / (wid + 2);
  const k = Math.min(sx, sy);
  const X = (x) => (x + 2) * k, Y = (y) => canvas.height / 2 - y * k;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#99a"; ctx.strokeRect(X(0), Y(wid / 2), len * k, wid * k);
  ctx.fillStyle = "#888";
  for (const c of s.cover || []) ctx.fillRect(X(c.x_ft - c.depth_ft / 2), Y(c.y_ft + c.width_ft / 2), c.depth_ft * k, c.width_ft * k);
  const o = s.officer || {x_ft: 0, y_ft: 0};
  for (const p of s.subjects || []) {
    ctx.setLineDash([4, 4]); ctx.strokeStyle = "#c88";
    ctx.beginPath(); ctx.moveTo(X(o.x_ft), Y(o.y_ft)); ctx.lineTo(X(p.x_ft), Y(p.y_ft)); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = p.role === "bystander" ? "#27c" : "#c22";
    ctx.beginPath(); ctx.arc(X(p.x_ft), Y(p.y_ft), 6, 0, 7); ctx.fill();
    ctx.fillStyle = "#111"; label(ctx, `${p.id} ${p.phase || ""}`, X(p.x_ft) + 8, Y(p.y_ft) - 8);
  }
  let round = null;  // where the latest round last struck: a strike's path comes on from it
  for (const h of s.hits || []) {
    if (h.kind === "strike") {
      // What a round struck after going through what it hit first: magenta, ringed, with its path.
      ctx.strokeStyle = "#e2d"; ctx.lineWidth = 2;
      if (round) { ctx.beginPath(); ctx.moveTo(X(round.x_ft), Y(round.y_ft)); ctx.lineTo(X(h.x_ft), Y(h.y_ft)); ctx.stroke(); }
      ctx.beginPath(); ctx.arc(X(h.x_ft), Y(h.y_ft), 6, 0, 7); ctx.stroke();
      ctx.fillStyle = "#e2d"; label(ctx, h.target ? `through to ${h.target}` : "through", X(h.x_ft) + 8, Y(h.y_ft) + 14);
    } else {
      ctx.strokeStyle = h.weapon === "firearm" ? "#d00" : "#f80"; ctx.lineWidth = 2;
    }
    ctx.beginPath(); ctx.moveTo(X(h.x_ft) - 4, Y(h.y_ft) - 4); ctx.lineTo(X(h.x_ft) + 4, Y(h.y_ft) + 4);
    ctx.moveTo(X(h.x_ft) + 4, Y(h.y_ft) - 4); ctx.lineTo(X(h.x_ft) - 4, Y(h.y_ft) + 4); ctx.stroke(); ctx.lineWidth = 1;
    if (h.kind === "bullet" || h.kind === "strike") round = h;
  }
  ctx.fillStyle = "#123"; ctx.fillRect(X(o.x_ft) - 5, Y(o.y_ft) - 5, 10, 10);
  label(ctx, "officer", X(o.x_ft) + 8, Y(o.y_ft) + 14);
  ctx.fillStyle = "#333";
  const measure = (text) => ctx.measureText(text).width;
  for (const [text, x, y] of tickLabels(len, k, canvas.width, canvas.height, measure)) ctx.fillText(text, x, y);
}

function label(ctx, text, x, y) {
  // A label beside what it names, moved in where it would run off the canvas.
  const w = ctx.measureText(text).width;
  ctx.fillText(text, insideX(x, w, ctx.canvas.width), Math.max(10, Math.min(y, ctx.canvas.height - 2)));
}

function insideX(x, textWidth, canvasWidth) {
  // A label's left edge moved so that all of it is on the canvas (1 px in from each edge).
  return Math.max(1, Math.min(x, canvasWidth - textWidth - 1));
}

function tickLabels(len, k, width, height, measure) {
  // The distance scale along the bottom, every 10 ft: [text, x, y] each, centred on its mark
  // and kept inside the canvas (the last, "60 ft" on a 60 ft lane, was cut off at the edge).
  const out = [];
  for (let f = 0; f <= len; f += 10) {
    const text = `${f} ft`, w = measure(text);
    out.push([text, insideX((f + 2) * k - w / 2, w, width), height - 2]);
  }
  return out;
}

function clockText(s) {
  // The run's clock: "2.76 s of 60 s" for a drill with a time limit, "2.76 s" for a course.
  if (typeof s.t_s !== "number") return "";
  const limit = typeof s.time_limit_s === "number" ? ` of ${s.time_limit_s} s` : "";
  return `${s.t_s.toFixed(2)} s${limit}`;
}

function runText(s) {
  // What runs: the drill's or course's title (and its id), never a drill file's path.
  const id = s.course || s.drill;
  if (!id) return "";
  const what = s.title ? `${s.title} (${s.course || s.drill_id || id})` : id;
  return `${what}, officer ${s.officer_name}, seed ${s.seed}`;
}

function showLane(msg) {
  const name = msg.lane;
  const lane = lanes[name] || (lanes[name] = {state: {}, events: []});
  if (msg.state) lane.state = msg.state;
  if (msg.full) lane.events = [];
  for (const e of msg.events || []) lane.events.push(e);
  if ("connected" in msg) lane.connected = msg.connected;
  if (msg.unrecorded) lane.unrecorded = msg.unrecorded;
  const s = lane.state;
  for (const c of document.querySelectorAll(`canvas.map[data-lane="${name}"]`)) drawMap(c, s);
  const card = document.getElementById(`card-${name}`);
  if (card) card.querySelector(".status").textContent = lane.connected === false ? "not connected" : s.status;
  if (card && msg.unrecorded) {
    const n = msg.unrecorded.length, flag = card.querySelector(".flag");
    // No "0 runs not recorded": the flag is empty, and hidden, when the lane holds none.
    flag.hidden = n === 0; flag.textContent = n ? `${n} run${n === 1 ? "" : "s"} not recorded` : "";
  }
  const page = document.querySelector(`.lane[data-lane="${name}"]`);
  if (!page) { if (!card && document.getElementById("lanes")) addCard(name); return; }
  document.getElementById("status").textContent = lane.connected === false ? `not connected (${s.status})` : s.status;
  document.getElementById("clock").textContent = clockText(s);
  document.getElementById("drill").textContent = runText(s);
  const subjects = document.getElementById("subjects");
  subjects.textContent = (s.subjects || []).map((p) => `${p.id}: ${p.phase} (${p.behaviour}, ${p.threat}) at ${p.x_ft.toFixed(1)} ft`).join("; ");
  subjects.dataset.x = (s.subjects || []).map((p) => p.x_ft).join(",");
  // The view and the phase graph only while a drill is on the lane (no broken images idle).
  const liveView = document.getElementById("live-view");
  if (liveView) liveView.hidden = !s.lane_ft;
  const drillPhases = document.getElementById("drill-phases");
  if (drillPhases) drillPhases.hidden = !s.phases;
  const phases = document.getElementById("phases");
  const current = (s.subjects || []).map((p) => p.phase);
  if (phases && s.phases && phases.dataset.key !== `${s.phases}|${current}`) {
    // Rebuilt only when a phase changes, not on every frame.
    phases.dataset.key = `${s.phases}|${current}`;
    const now = new Set(current);
    phases.textContent = "";
    for (const id of s.phases) {
      const span = document.createElement(now.has(id) ? "b" : "span");
      span.textContent = id; span.className = now.has(id) ? "phase now" : "phase";
      phases.appendChild(span); phases.appendChild(document.createTextNode(" "));
    }
    // The drawn graph (server-side SVG) follows the same key: a phase entered fills its box.
    const graph = document.getElementById("phase-graph");
    if (graph && s.phases) graph.src = `/lanes/${name}/phases.svg?k=${encodeURIComponent(phases.dataset.key)}`;
  }
  showReplicas(s.replicas);
  if (msg.unrecorded) showUnrecorded(name, msg.unrecorded);
  showCourse(s);
  // Buttons that cannot apply to the lane as it is now are greyed (the server refuses them too).
  const on = runButtons(s, lane.connected);
  for (const id of ["start", "start-course", "pause", "resume", "abort", "restart", "say", "mark", "flag"]) {
    const button = document.getElementById(id);
    if (button) button.disabled = !on[id === "start-course" ? "start" : id];
  }
  const view = document.getElementById("view");
  if (view && s.lane_ft && !view.dataset.busy) refreshView(view);
  const box = document.getElementById("branch-buttons");
  if (box) {
    const names = (s.buttons || []).map((b) => b.name).join(",");
    if (box.dataset.names !== names) {
      box.dataset.names = names; box.textContent = "";
      for (const b of s.buttons || []) {
        const f = document.createElement("form");
        f.method = "post"; f.action = `/lanes/${name}/command`; f.className = "cmd branch";
        f.innerHTML = `<input type="hidden" name="csrf"><input type="hidden" name="command" value="button"><input type="hidden" name="button"><button></button>`;
        f.elements.csrf.value = csrf; f.elements.button.value = b.name;
        const button = f.querySelector("button"); button.textContent = `Branch: ${b.name}`; button.id = `button-${b.name}`; button.className = "branch-button";
        hook(f); box.appendChild(f);
      }
    }
  }
  if (box) for (const b of box.querySelectorAll("button")) b.disabled = !on.button;
  // Say as: the running drill's subjects (a line is always some subject's, in their voice).
  const sayAs = document.getElementById("say-subject");
  const ids = (s.subjects || []).map((p) => p.id);
  if (sayAs && ids.length && sayAs.dataset.ids !== ids.join(",")) {
    sayAs.dataset.ids = ids.join(","); const kept = sayAs.value; sayAs.textContent = "";
    for (const id of ids) { const o = document.createElement("option"); o.textContent = id; sayAs.appendChild(o); }
    if (ids.includes(kept)) sayAs.value = kept;
  }
  // A hook for measuring (bench/console.py): called with each frame once it is drawn.
  if (window.openrangeProbe && msg.sent_unix_ms) window.openrangeProbe(msg);
  const list = document.getElementById("events");
  if (list && (msg.events || []).length || msg.full) {
    list.textContent = "";
    for (const e of lane.events.slice(-60)) {
      const li = document.createElement("li"); li.textContent = `${e.t.toFixed(2)} s ${e.kind} ${e.text}`; list.appendChild(li);
    }
    list.scrollTop = list.scrollHeight;
  }
}

function runButtons(s, connected) {
  // Which commands apply to the lane now: the rule the server refuses by (range/console/
  // protocol.py `refusal`): a course takes only abort; a pause only a running drill, a resume
  // only a paused one; a branch waits for the resume; an ended drill can be restarted.
  const live = s.status === "running" || s.status === "paused";
  const course = s.kind === "course";
  const up = connected !== false;
  const on = {start: up && !live};
  for (const c of ["pause", "resume", "abort", "restart", "button", "say", "mark", "flag"]) {
    on[c] = up && live && (!course || c === "abort");
  }
  on.pause = on.pause && s.status === "running";
  on.resume = on.resume && s.status === "paused";
  on.button = on.button && s.status === "running";
  if (up && s.status === "ended" && !course && s.drill) on.restart = true;
  return on;
}

function showCourse(s) {
  // A qualification course on the lane: each string with its par time, fired and points.
  const table = document.getElementById("course");
  if (!table) return;
  table.hidden = s.kind !== "course";
  if (s.kind !== "course") return;
  document.getElementById("course-title").textContent = `${s.title} (${s.course}), shooter ${s.shooter}, seed ${s.seed}`;
  const body = table.querySelector("tbody"); body.textContent = "";
  for (const r of s.strings) {
    const tr = document.createElement("tr");
    tr.dataset.stage = r.stage; tr.dataset.string = r.string; tr.dataset.status = r.status; tr.className = `string ${r.status}`;
    for (const text of [r.stage, r.string, r.weapon, `${r.distance_ft} ft`, `${r.par_time_s} s`, `${r.fired} of ${r.rounds}`, r.points, r.status]) {
      const td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  const total = document.getElementById("course-score");
  total.dataset.points = s.points;
  // A scripted shooter's score passes or fails the course, but the records keep it as the
  // simulation it is, never a qualification: said beside it.
  const simulated = s.shooter && s.shooter !== "officer" ? ` (scripted shooter ${s.shooter}: recorded as a simulation, not a qualification)` : "";
  // Its outcome as the CLI words it: SIMULATED (would be QUALIFIED) for a scripted shooter.
  const verdict = s.score && s.score.simulated ? s.score.outcome : (s.score && s.score.passed ? "PASSED" : "FAILED");
  total.textContent = s.score ? `${s.score.points} points, ${s.score.hits} hits: ${verdict}${simulated}` : `${s.points} points so far`;
}

function holds(r) {
  if (!r.loads) return "";
  if (Array.isArray(r.loads)) return r.loads.map((b) => `bay ${b.bay}: ${b.cartridge} (${b.probes} probes)`).join("; ");
  const m = r.loads;
  return `${m.magazine_in ? "magazine in" : "no magazine"}, ${m.rounds} rounds${m.chambered ? ", chambered" : ""}`;
}

function showReplicas(rows) {
  // The lane's replicas, one row each; rebuilt only when something but the battery changed.
  const body = document.querySelector("#replicas tbody");
  if (!body) return;
  rows = rows || [];
  const key = JSON.stringify(rows.map((r) => ({...r, battery_pct: undefined})));
  if (body.dataset.key === key) return;
  body.dataset.key = key; body.textContent = "";
  if (!rows.length) {
    // None: one line says so (a lane started without --replica).
    const tr = document.createElement("tr"), td = document.createElement("td");
    tr.className = "no-replicas"; td.colSpan = 6; td.textContent = document.getElementById("replicas").dataset.none;
    tr.appendChild(td); body.appendChild(tr);
  }
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.serial = r.serial; tr.dataset.status = r.status; tr.className = `replica ${r.status}`;
    const status = r.problem ? `${r.status} (${r.problem})` : r.status;
    for (const [text, cls] of [[r.serial], [r.model], [status, "replica-status"], [holds(r)], [r.safety || ""], [(r.faults || []).join(", ")]]) {
      const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

function showUnrecorded(name, runs) {
  // Runs the records refused (an unknown badge, a store error): the lane holds each one; a
  // range master retries or dismisses it.
  const box = document.getElementById("unrecorded");
  if (!box) return;
  box.hidden = runs.length === 0;
  const list = box.querySelector("ul"); list.textContent = "";
  for (const r of runs) {
    const li = document.createElement("li");
    li.className = "unrecorded-run"; li.dataset.run = r.run_dir;
    const span = document.createElement("span"); span.className = "reason";
    span.textContent = `${r.kind} ${r.what}${r.badge ? ` for ${r.badge}` : ""} (${r.run_dir}) not recorded: ${r.reason}`;
    li.appendChild(span);
    if (box.dataset.admin === "1") {
      for (const answer of ["retry", "dismiss"]) {
        // The field is "answer": one named "action" would hide the form's action property.
        const f = document.createElement("form");
        f.method = "post"; f.action = `/lanes/${name}/unrecorded`; f.className = "cmd unrecorded-action";
        f.innerHTML = `<input type="hidden" name="csrf"><input type="hidden" name="run_dir"><input type="hidden" name="answer"><button></button>`;
        f.elements.csrf.value = csrf; f.elements.run_dir.value = r.run_dir; f.elements.answer.value = answer;
        const button = f.querySelector("button"); button.className = answer; button.textContent = answer[0].toUpperCase() + answer.slice(1);
        hook(f); li.appendChild(document.createTextNode(" ")); li.appendChild(f);
      }
    }
    list.appendChild(li);
  }
}

function refreshView(view) {
  // One image at a time: the next is asked for when this one has arrived.
  view.dataset.busy = "1";
  const eye = (document.querySelector("input[name=eye]:checked") || {value: "officer"}).value;
  view.onload = view.onerror = () => setTimeout(() => { delete view.dataset.busy; }, 150);
  view.src = `/lanes/${view.dataset.lane}/view.png?eye=${eye}&n=${Date.now()}`;
}

function addCard(name) {
  const a = document.createElement("a");
  a.className = "card lane-card"; a.id = `card-${name}`; a.href = `/lanes/${name}`; a.dataset.lane = name;
  a.innerHTML = `<h2></h2><p class="status"></p><p class="flag error" hidden></p><canvas class="map" width="320" height="120"></canvas>`;
  a.querySelector("h2").textContent = name; a.querySelector("canvas").dataset.lane = name;
  const none = document.getElementById("nolanes"); if (none) none.remove();
  // In name order, as the server lists them (not in the order the lanes connected).
  const box = document.getElementById("lanes");
  const after = [...box.querySelectorAll(".lane-card")].find((c) => c.dataset.lane > name);
  box.insertBefore(a, after || null);
  showLane({lane: name, state: lanes[name].state});
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/live?csrf=${encodeURIComponent(csrf)}`);
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.lane && (m.type === "state" || m.type === "finished")) showLane(m);
    if (m.type === "removed") for (const el of document.querySelectorAll(`[data-lane="${m.lane}"].card`)) el.remove();
    const error = document.getElementById("lane-error");
    if (m.type === "error" && error && document.querySelector(`.lane[data-lane="${m.lane}"]`)) error.textContent = m.error;
  };
  ws.onopen = () => linkNote(true);
  ws.onclose = () => { linkNote(false); setTimeout(connect, 1000); };
}

function linkNote(up) {
  // The console link lost: what the page shows is stale until it is back; said at the top.
  let note = document.getElementById("link-lost");
  if (!note) {
    note = document.createElement("p"); note.id = "link-lost"; note.className = "error"; note.setAttribute("role", "status");
    document.querySelector("main").prepend(note);
  }
  note.hidden = up;
  note.textContent = up ? "" : "Connection to the console lost: what this page shows is stale. Reconnecting...";
  document.body.dataset.link = up ? "up" : "lost";
}

function hook(form) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await fetch(form.action, {method: "POST", body: new FormData(form), headers: {"X-Requested-With": "fetch"}, credentials: "same-origin"});
    document.body.dataset.lastCommand = `${r.status}`;
    // A refused command says why (a course on the lane, no run, not connected) under the buttons.
    const note = document.getElementById("command-note");
    if (note) note.textContent = r.ok ? "" : `Refused: ${await r.text()}`;
    // A line sent is cleared, ready for the next.
    if (r.ok) for (const box of form.querySelectorAll('input[name="text"], input[name="note"]')) box.value = "";
  });
}

function scrubber(box) {
  const data = JSON.parse(box.dataset.track);
  const canvas = box.querySelector("canvas"), range = box.querySelector(".scrub"), label = box.querySelector(".scrub-t");
  const rows = box.parentElement.querySelectorAll(".timeline tr[data-t]");
  const show = () => {
    const t = parseFloat(range.value);
    let at = data.track[0];
    for (const p of data.track) if (p.t <= t + 1e-9) at = p;
    const subjects = Object.entries(at ? at.subjects : {}).map(([id, xy]) => ({id, x_ft: xy[0], y_ft: xy[1]}));
    const hits = data.impacts.filter((h) => h.t <= t + 1e-9);
    drawMap(canvas, {lane_ft: data.lane_ft, cover: data.cover, subjects, hits, officer: at ? {x_ft: at.officer[0], y_ft: at.officer[1]} : null});
    label.textContent = `${t.toFixed(2)} s`;
    for (const r of rows) r.classList.toggle("now", Math.abs(parseFloat(r.dataset.t) - t) < 0.25);
  };
  const frame = box.querySelector("img.run-view");
  let pending = false, again = false;
  const render = () => {
    // The rendered frame follows the scrubber, one request at a time.
    if (!frame) return;
    if (pending) { again = true; return; }
    pending = true;
    const eye = (box.querySelector("input[type=radio]:checked") || {value: "officer"}).value;
    frame.onload = frame.onerror = () => { pending = false; if (again) { again = false; render(); } };
    frame.src = `/runs/${frame.dataset.run}/view.png?t=${parseFloat(range.value).toFixed(2)}&eye=${eye}`;
  };
  for (const r of box.querySelectorAll("input[type=radio]")) r.addEventListener("change", render);
  // Side by side: another scrubber moved (linked) comes here, to the same drill time.
  box.seek = (t) => { range.value = Math.min(t, data.end_t); show(); render(); };
  const moved = () => {
    const link = document.getElementById("link-scrubbers");
    if (!link || !link.checked) return;
    for (const other of document.querySelectorAll(".scrubber")) if (other !== box && other.seek) other.seek(parseFloat(range.value));
  };
  range.addEventListener("input", () => { show(); render(); moved(); });
  const play = box.querySelector(".play");
  let playing = false;
  play.addEventListener("click", () => {
    // Play and Pause in one button, which says which it does now.
    // The end is judged on the clock, not on the slider: the slider moves in steps of 0.05 s
    // and stops short of an end between two (6.758 s: 6.75), where Play went on as "Pause".
    const step = parseFloat(range.step) || 0;
    if (playing) { playing = false; play.textContent = "Play"; return; }
    if (parseFloat(range.value) >= data.end_t - step) range.value = 0;
    playing = true; play.textContent = "Pause";
    const start = performance.now() - parseFloat(range.value) * 1000;
    const tick = () => {
      if (!playing) return;
      const t = (performance.now() - start) / 1000;
      range.value = Math.min(t, data.end_t); show(); render(); moved();
      if (t < data.end_t) requestAnimationFrame(tick);
      else { playing = false; play.textContent = "Play"; }
    };
    requestAnimationFrame(tick);
  });
  show();
  render();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const f of document.querySelectorAll("form.cmd")) hook(f);
  for (const s of document.querySelectorAll(".scrubber")) scrubber(s);
  if (document.querySelector("[data-live]")) connect();
});
