// dubbomesh console: reads /debug/services and /debug/routing, writes
// through /ui/api/routing and /ui/api/rollback (admin token required).
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, props, ...children) => {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c === null || c === undefined ? "" : c);
  return e;
};
let state = { doc: null, selected: null, editing: false };

for (const id of ["token", "by"]) {
  const input = $("#" + id);
  input.value = sessionStorage.getItem("dubbomesh-" + id) || "";
  input.addEventListener("input", () => sessionStorage.setItem("dubbomesh-" + id, input.value));
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const t = $("#token").value.trim();
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}

function say(text, error) {
  const m = $("#message");
  m.textContent = text;
  m.className = error ? "error" : "";
}

async function call(method, path, body) {
  const resp = await fetch(path, { method, headers: headers(), body: body ? JSON.stringify(body) : undefined });
  const text = await resp.text();
  let data;
  try { data = JSON.parse(text); } catch (e) { data = { error: text.trim() }; }
  if (!resp.ok) throw new Error(resp.status + ": " + (data.error || text.trim()));
  return data;
}

function list(values) { return values && values.length ? values.join(", ") : "–"; }

function renderDocument(doc) {
  const d = $("#document");
  d.replaceChildren();
  if (!doc) { d.append("No config center configured (console.configCenter): routing is not shown."); return; }
  d.append(el("span", {}, "Routing document " + doc.where + (doc.version ? " (version " + doc.version + ")" : "")));
  if (doc.default) d.append(el("span", {}, " · default: " + doc.default.describe));
  if (doc.error) d.append(el("span", { className: "bad" }, " · " + doc.error));
}

function renderRow(s) {
  const tr = el("tr", { className: s.shadowed ? "shadowed" : "" });
  tr.dataset.service = s.name;
  const name = el("a", { textContent: s.name, title: s.kind });
  name.addEventListener("click", () => { state.selected = s.name; refreshDetail(); });
  const byReg = Object.entries(s.endpoints.byRegistry || {}).map(([r, n]) => r + ": " + n).join(", ");
  const problems = [];
  for (const k of s.skipped || []) problems.push(el("div", { className: "bad" }, "skipped " + k.address + ": " + k.reason));
  if (s.conflict && s.conflict.length) problems.push(el("div", { className: "bad" }, (s.shadowed ? "shadowed by " : "also maps here: ") + s.conflict.join(", ")));
  const r = s.routing;
  const o = s.observed;
  const fb = o && o.fallbacksPerSecond ? Object.entries(o.fallbacksPerSecond).map(([k, v]) => k + " " + v).join(", ") : "–";
  tr.append(
    el("td", {}, name, el("div", { className: "small" }, s.kind)),
    el("td", {}, s.host),
    el("td", {}, list(s.registries)),
    el("td", { className: "endpoints" }, s.endpoints.published + "/" + s.endpoints.total + " published",
      el("div", { className: "small" }, byReg + (s.endpoints.drained ? ", drained " + s.endpoints.drained : "") + (s.endpoints.skipped ? ", skipped " + s.endpoints.skipped : ""))),
    el("td", { className: "small" }, "v: " + list(s.versions), el("br"), "g: " + list(s.groups), el("br"), "t: " + list(s.tags)),
    el("td", {}, ...problems),
    el("td", {}, s.istioShard === undefined ? "–" : String(s.istioShard),
      el("div", { className: "small lastpush" }, s.lastPush ? "pushed " + new Date(s.lastPush).toLocaleTimeString() : "not pushed")),
    el("td", { className: "mode" }, r ? r.describe + (r.override ? "" : " (default)") : "–"),
    el("td", { className: "share" }, o && o.meshShare !== undefined ? o.meshShare.toFixed(1) + " %" : "–",
      o ? el("div", { className: "small" }, o.callsPerSecond + " calls/s") : null),
    el("td", { className: "fallbacks" }, fb),
    el("td", { className: "breaker " + (o && o.breaker && o.breaker !== "closed" ? "bad" : "") }, o && o.breaker ? o.breaker : "–"),
    el("td", {}, editor(s)),
  );
  return tr;
}

function editor(s) {
  if (!state.doc || s.kind !== "interface") return "–";
  const sel = el("select", { className: "mode-select" });
  for (const m of ["legacy", "dual", "mesh"]) sel.append(el("option", { value: m, textContent: m }));
  const w = el("input", { className: "weight-input", type: "number", min: 0, max: 100 });
  if (s.routing) { sel.value = s.routing.mode; w.value = s.routing.meshWeight; }
  const focus = () => { state.editing = true; };
  sel.addEventListener("focus", focus);
  w.addEventListener("focus", focus);
  const apply = el("button", { className: "apply", type: "button", textContent: "Apply…" });
  apply.addEventListener("click", () => {
    const edit = { service: s.name, mode: sel.value, meshWeight: sel.value === "dual" ? Number(w.value) : 0,
      version: state.doc.version || "", by: $("#by").value };
    const to = edit.mode === "dual" ? "dual " + edit.meshWeight : edit.mode;
    confirmThen("Change " + s.name + " from " + (s.routing ? s.routing.describe : "(none)") + " to " + to + "?", async () => {
      try {
        const e = await call("POST", "/ui/api/routing", edit);
        say(e.id ? "Change " + e.id + " written: " + (e.summary || []).join("; ") : "Unchanged.");
      } catch (err) { say("Refused: " + err.message, true); }
      state.editing = false;
      refresh();
    });
  });
  return el("span", {}, sel, w, apply);
}

function confirmThen(text, action) {
  $("#confirm-text").textContent = text;
  $("#confirm").hidden = false;
  $("#confirm-yes").onclick = () => { $("#confirm").hidden = true; action(); };
  $("#confirm-no").onclick = () => { $("#confirm").hidden = true; state.editing = false; };
}

$("#rollback").addEventListener("click", () => {
  confirmThen("Restore the routing document the last change replaced?", async () => {
    try {
      const e = await call("POST", "/ui/api/rollback", { to: 0, by: $("#by").value });
      say("Change " + e.id + " written: " + e.action + ": " + (e.summary || []).join("; "));
    } catch (err) { say("Refused: " + err.message, true); }
    refresh();
  });
});

async function refreshHistory() {
  const body = $("#history tbody");
  try {
    const r = await call("GET", "/debug/routing");
    body.replaceChildren(...(r.history || []).slice().reverse().map((e) =>
      el("tr", {}, el("td", {}, String(e.id)), el("td", {}, e.at), el("td", {}, e.by), el("td", {}, e.action), el("td", {}, (e.summary || []).join("; ")))));
  } catch (err) {
    body.replaceChildren(el("tr", {}, el("td", { colSpan: 5 }, err.message)));
  }
}

async function refreshDetail() {
  const d = $("#detail");
  if (!state.selected) { d.hidden = true; return; }
  try {
    const s = await call("GET", "/debug/services/" + encodeURIComponent(state.selected));
    const rows = (s.endpointList || []).map((e) => el("tr", {},
      el("td", {}, e.address), el("td", {}, e.protocol), el("td", {}, e.status), el("td", {}, String(e.weight)),
      el("td", {}, list(e.registries)),
      el("td", { className: "small" }, Object.entries(e.labels || {}).map(([k, v]) => k + "=" + v).join(" "))));
    const close = el("a", { textContent: "close" });
    close.addEventListener("click", () => { state.selected = null; d.hidden = true; });
    d.replaceChildren(
      el("h2", {}, s.name + " — " + s.host + " ", close),
      el("table", { className: "endpoint-list" },
        el("thead", {}, el("tr", {}, ...["Address", "Protocol", "Status", "Weight", "Registries", "Labels"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows)),
      el("details", {}, el("summary", {}, "Generated xDS and Istio resources"), el("pre", {}, JSON.stringify(s.resources, null, 2))));
    d.hidden = false;
  } catch (err) {
    d.replaceChildren(el("p", { className: "bad" }, err.message));
    d.hidden = false;
  }
}

async function refresh() {
  if (state.editing) return;
  try {
    const o = await call("GET", "/debug/services");
    state.doc = o.routing || null;
    renderDocument(state.doc);
    if (o.prometheus) say("Prometheus: " + o.prometheus, true);
    $("#services tbody").replaceChildren(...o.services.map(renderRow));
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = "true";
  } catch (err) {
    say(err.message, true);
  }
  refreshHistory();
  if (state.selected) refreshDetail();
}

refresh();
setInterval(refresh, 2000);
