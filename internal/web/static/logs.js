// logs.js: a live tail of an app environment's logs (GET
// .../logs?follow=1, the same stream as berth logs -f), each line with
// its container and release; pause and follow, a filter on what is
// loaded, and a download of it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el } = berth;
  const app = document.body.dataset.app, env = document.body.dataset.env;
  const base = "/api/v1/apps/" + encodeURIComponent(app) + "/envs/" + encodeURIComponent(env);
  const tbody = document.getElementById("log-lines");
  const state = document.getElementById("logs-state");
  const count = document.getElementById("logs-count");
  const serviceSel = document.getElementById("logs-service");
  const filter = document.getElementById("logs-filter");
  const pauseBtn = document.getElementById("logs-pause");
  const max = 5000;
  let lines = []; // {container, release, text}
  let paused = false;
  let ctl = null;

  // A container's name is APP-ENV-SERVICE-rRELEASE-INDEX[-SUFFIX].
  function release(container) {
    const m = /-r(\d+)-\d+(-[0-9a-f]+)?$/.exec(container);
    return m ? m[1] : "";
  }

  function parse(raw) {
    const i = raw.indexOf(" | ");
    const container = i >= 0 ? raw.slice(0, i) : "";
    return { container, release: release(container), text: i >= 0 ? raw.slice(i + 3) : raw };
  }

  function row(l) {
    return el("tr", {}, el("td", {}, l.container), el("td", {}, l.release), el("td", { class: "line" }, l.text));
  }

  function render() {
    const f = filter.value;
    const shown = f ? lines.filter((l) => l.text.includes(f) || l.container.includes(f)) : lines;
    tbody.replaceChildren(...shown.map(row));
    count.textContent = shown.length + (f ? " of " + lines.length : "") + " line(s)";
    if (!paused) tbody.parentElement.parentElement.scrollTop = 1e9;
  }

  function add(raw) {
    lines.push(parse(raw));
    if (lines.length > max) lines = lines.slice(lines.length - max);
  }

  async function follow() {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    lines = [];
    render();
    const q = new URLSearchParams({ follow: "1", tail: "200", names: "1" });
    if (serviceSel.value) q.set("service", serviceSel.value);
    state.textContent = "connecting…";
    state.className = "live-dot";
    try {
      const res = await fetch(base + "/logs?" + q.toString(), { credentials: "same-origin", signal: ctl.signal });
      if (res.status === 401) return berth.expired();
      if (!res.ok) {
        let msg = res.status + " " + res.statusText;
        try { msg = (await res.json()).error || msg; } catch (e) { /* not JSON */ }
        throw new Error(msg);
      }
      state.textContent = "live";
      state.className = "live-dot on";
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      let pending = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          add(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
        if (!paused && !pending) pending = setTimeout(() => { pending = null; render(); }, 100);
      }
      state.textContent = "ended";
      state.className = "live-dot off";
    } catch (e) {
      if (e.name === "AbortError") return;
      state.textContent = "not connected: " + e.message;
      state.className = "live-dot off";
      berth.checkSession();
    }
  }

  pauseBtn.addEventListener("click", () => {
    paused = !paused;
    pauseBtn.textContent = paused ? "Follow" : "Pause";
    if (!paused) render();
  });
  filter.addEventListener("input", render);
  serviceSel.addEventListener("change", follow);
  document.getElementById("logs-download").addEventListener("click", () => {
    const text = lines.map((l) => (l.container ? l.container + " | " : "") + l.text).join("\n") + "\n";
    const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/plain" })), download: app + "-" + env + ".log" });
    document.body.append(a);
    a.click();
    a.remove();
  });

  // The services of the live release, for the selector.
  berth.json("GET", "/api/v1/apps/" + encodeURIComponent(app) + "/envs/" + encodeURIComponent(env) + "/status").then((st) => {
    for (const s of st.services || []) serviceSel.append(el("option", { value: s.name }, s.name));
  }).catch(() => { /* the stream still works for every service */ });
  follow();
});
