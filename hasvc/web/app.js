// SPDX-License-Identifier: LGPL-2.1-or-later
// hasvc dashboard: reads the JSON API and redraws. No framework, no build step.
//
// Events arrive on the Server-Sent Events stream /v1/events/stream (the token
// goes in its URL: EventSource cannot send an Authorization header), and each
// one redraws nodes and pairs at once. Nodes and pairs are also polled every
// REFRESH_MS (sync progress makes no events). When the stream is not open
// (an old browser, a proxy that buffers, a reconnect) events are polled too.
"use strict";

const REFRESH_MS = 2000;
const STREAM_RETRY_MS = 10000;
const EVENT_KINDS = ["pair", "maintenance", "fence", "fence-failed", "membership"];
const $ = (id) => document.getElementById(id);
let lastEventId = 0;
const events = [];
let stream = null;
let streaming = false;
let streamOpenedAt = 0;

function token() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    localStorage.setItem("hasvc-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem("hasvc-token") || "";
}

async function api(path) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  const r = await fetch(path, { headers });
  if (r.status === 401) {
    $("token-form").hidden = false;
    throw new Error("the API wants a token: enter a read-only dashboard token above");
  }
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || r.statusText);
  return body;
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  if (text instanceof Node) td.appendChild(text); else td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function since(usec) {
  if (!usec) return "—";
  const s = Math.max(0, Math.round(Date.now() / 1000 - usec / 1e6));
  if (s < 120) return s + " s ago";
  if (s < 7200) return Math.round(s / 60) + " min ago";
  return new Date(usec / 1000).toLocaleString();
}

const STATE_CLASS = {
  "in-sync": "ok", online: "ok", "initial-sync": "warn", creating: "warn", degraded: "warn",
  unprotected: "warn", "switching-over": "warn", fencing: "bad", promoting: "warn",
  "lost-unsynced": "bad", error: "bad", offline: "bad", deleting: "warn", fenced: "bad",
  maintenance: "warn", "handing-over": "warn", "catching-up": "warn", migrating: "warn",
  reversing: "warn", "guest-down": "bad",
};

function badge(text) {
  const s = document.createElement("span");
  s.className = "state " + (STATE_CLASS[text] || "");
  s.textContent = text;
  return s;
}

function progress(done, total) {
  const wrap = document.createElement("span");
  const bar = document.createElement("span");
  bar.className = "bar";
  const fill = document.createElement("div");
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  fill.style.width = pct.toFixed(1) + "%";
  bar.appendChild(fill);
  wrap.appendChild(bar);
  wrap.appendChild(document.createTextNode(" " + pct.toFixed(0) + "%"));
  return wrap;
}

function drawStatus(st) {
  const c = $("cluster");
  if (st.cluster.quorate) {
    c.className = "badge ok";
    c.textContent = "quorate · coordinator " + (st.cluster.coordinator || "—");
  } else {
    c.className = "badge bad";
    c.textContent = "NO QUORUM";
  }
  const tb = $("nodes").tBodies[0];
  tb.replaceChildren();
  for (const n of st.nodes) {
    const tr = document.createElement("tr");
    cell(tr, n.name);
    cell(tr, String(n.nodeid));
    cell(tr, badge(n.state || (n.online ? "online" : "offline")));
    cell(tr, since(n.changed_usec || n.changed));
    tb.appendChild(tr);
  }
}

function drawPairs(list) {
  const pairs = list.pairs || [];
  const tb = $("pairs").tBodies[0];
  tb.replaceChildren();
  $("pairs-empty").hidden = pairs.length > 0;
  for (const p of pairs) {
    const tr = document.createElement("tr");
    tr.dataset.vm = p.vm;
    cell(tr, p.vm);
    cell(tr, badge(p.state));
    cell(tr, p.primary || "—");
    cell(tr, p.backup || "—");
    cell(tr, p.mode || "");
    cell(tr, progress(p.bytes_done || 0, p.bytes_total || 0));
    cell(tr, (p.reason ? p.reason + " · " : "") + since(p.changed_usec));
    tb.appendChild(tr);
  }
}

function drawEvents(list) {
  for (const e of list.events || []) {
    if (e.id > lastEventId) {
      lastEventId = e.id;
      events.unshift(e);
    }
  }
  events.length = Math.min(events.length, 200);
  const ol = $("events");
  ol.replaceChildren();
  for (const e of events) {
    const li = document.createElement("li");
    li.value = e.id; // the list's number is the event's id (as in `hasvc events`), not its row
    const when = new Date((e.time_usec || 0) / 1000).toLocaleTimeString();
    li.textContent = `${when} ${e.node || ""} ${e.vm ? e.vm + ": " : ""}${e.message}`;
    ol.appendChild(li);
  }
}

async function refresh() {
  try {
    drawStatus(await api("/v1/status"));
    drawPairs(await api("/v1/pairs"));
    if (!streaming) drawEvents(await api("/v1/events?since=" + lastEventId));
    $("error").hidden = true;
    $("updated").textContent = (streaming ? "live · " : "") + "updated " +
      new Date().toLocaleTimeString();
  } catch (err) {
    $("error").hidden = false;
    $("error").textContent = "cannot read the hasvc API: " + err.message;
  }
  if (!streaming && Date.now() - streamOpenedAt > STREAM_RETRY_MS) openStream();
}

// One redraw for a burst of events (a failover logs several in a second).
let redrawTimer = null;
function redrawSoon() {
  if (redrawTimer === null) redrawTimer = setTimeout(() => { redrawTimer = null; refresh(); }, 100);
}

function openStream() {
  if (!window.EventSource || /[?&]stream=0/.test(location.search)) return;
  if (stream) stream.close();
  const t = token();
  const url = "/v1/events/stream?since=" + lastEventId +
    (t ? "&token=" + encodeURIComponent(t) : "");
  const es = new EventSource(url);
  const onEvent = (m) => {
    const e = JSON.parse(m.data);
    console.debug(`hasvc: event ${e.id} (${e.kind}) from the stream`);
    drawEvents({ events: [e] });
    redrawSoon();
  };
  for (const kind of EVENT_KINDS) es.addEventListener(kind, onEvent);
  es.onmessage = onEvent;
  es.onopen = () => {
    streaming = true;
    console.info("hasvc: following the event stream");
  };
  // EventSource reconnects by itself (with Last-Event-ID); poll meanwhile.
  es.onerror = () => { streaming = false; };
  stream = es;
  streamOpenedAt = Date.now();
}

$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  localStorage.setItem("hasvc-token", $("token").value);
  $("token-form").hidden = true;
  streamOpenedAt = 0;
  refresh();
});

refresh(); // and opens the stream
setInterval(refresh, REFRESH_MS);
