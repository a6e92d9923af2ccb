// audit.js: the audit log (GET /api/v1/audit, admin only), filtered by
// app, actor and age, newest first, reloaded every 5 s while shown.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el } = berth;
  const rows = document.getElementById("audit-rows");
  const state = document.getElementById("audit-state");
  const empty = document.getElementById("audit-empty");
  const form = document.getElementById("audit-filter");
  const field = (id) => document.getElementById(id);

  // The filter is kept in the address, so a filtered view can be shared.
  const q = new URLSearchParams(location.search);
  for (const k of ["app", "actor", "since"]) {
    if (q.has(k)) field("f-" + k).value = q.get(k);
  }

  function query() {
    const p = new URLSearchParams({ limit: "200" });
    const app = field("f-app").value.trim(), actor = field("f-actor").value.trim(), since = field("f-since").value;
    if (app) p.set("app", app);
    if (actor) p.set("actor", actor);
    if (since) {
      const hours = parseInt(since, 10);
      p.set("since", new Date(Date.now() - hours * 3600e3).toISOString().replace(/\.\d+Z$/, "Z"));
    }
    return p;
  }

  function params(ps) {
    if (!ps) return "";
    return Object.keys(ps).sort().map((k) => k + "=" + ps[k]).join(" ");
  }

  function outcome(e) {
    const cls = e.outcome === "ok" ? "badge ok" : e.outcome === "refused" ? "badge warn" : "badge bad";
    return el("span", {}, el("span", { class: cls }, e.outcome),
      e.error ? el("span", { class: "why" }, " " + e.error.split("\n")[0]) : null);
  }

  function started(e) {
    if (e.deployment) return el("a", { href: "/deployments/" + e.deployment }, "deployment " + e.deployment);
    if (e.build) return "build " + e.build;
    return "";
  }

  let shown = "";
  async function load() {
    let entries;
    try {
      entries = await berth.json("GET", "/api/v1/audit?" + query().toString());
    } catch (err) {
      state.textContent = "not loaded: " + err.message;
      state.className = "live-dot off";
      return;
    }
    state.textContent = "updated " + new Date().toLocaleTimeString();
    state.className = "live-dot on";
    const sig = JSON.stringify(entries);
    if (sig === shown) return; // nothing new: leave the table as it is
    shown = sig;
    empty.hidden = entries.length > 0;
    rows.replaceChildren(...entries.map((e) => el("tr", { "data-seq": e.seq, "data-action": e.action },
      el("td", {}, el("time", { datetime: e.time, title: berth.when(e.time) }, berth.ago(e.time))),
      el("td", {}, e.actor || "(no credentials)"),
      el("td", {}, e.source || ""),
      el("td", {}, e.action),
      el("td", {}, e.app ? (e.env ? el("a", { href: "/apps/" + encodeURIComponent(e.app) + "/envs/" + encodeURIComponent(e.env) }, e.app + "/" + e.env) : e.app) : ""),
      el("td", { class: "params" }, params(e.params)),
      el("td", {}, outcome(e)),
      el("td", {}, started(e)))));
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = query();
    p.delete("limit");
    p.delete("since");
    if (field("f-since").value) p.set("since", field("f-since").value);
    history.replaceState(null, "", "/audit" + (p.toString() ? "?" + p.toString() : ""));
    shown = "";
    load();
  });
  load();
  setInterval(() => { if (!document.hidden) load(); }, 5000);
});
