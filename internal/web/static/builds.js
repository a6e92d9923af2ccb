// builds.js: the git pipeline's builds of an app (GET
// /api/v1/apps/APP/builds, as berth builds), newest first, with a
// cancel button for one queued or running (POST /api/v1/builds/ID/cancel,
// as berth builds cancel). Reloaded every 2 seconds.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el, ask } = berth;
  const app = document.body.dataset.app;
  const role = document.body.dataset.role;
  const mayCancel = role === "admin" || role === "deployer";
  const state = document.getElementById("builds-state");

  function took(b) {
    if (!b.started_at || !b.ended_at) return b.status === "running" ? "running…" : "–";
    return berth.seconds((new Date(b.ended_at) - new Date(b.started_at)) * 1e6);
  }

  function row(b) {
    const done = !["queued", "running"].includes(b.status);
    return el("tr", { "data-build": b.id, "data-status": b.status },
      el("th", { scope: "row" }, el("a", { href: "/builds/" + b.id }, String(b.id))),
      el("td", {}, berth.buildBadge(b.status), b.error ? el("div", { class: "why" }, b.error.split("\n")[0]) : null),
      el("td", {}, (b.branch || "–") + " → " + (b.env || "–")),
      el("td", {}, el("code", {}, (b.commit || "").slice(0, 12) || "–"), b.message ? el("div", { class: "hint" }, b.message.split("\n")[0]) : null),
      el("td", {}, b.actor || b.author || "–"),
      el("td", {}, el("time", { datetime: b.created_at }, berth.when(b.created_at))),
      el("td", { class: "num" }, took(b)),
      el("td", {}, b.deployment_id ? el("a", { href: "/deployments/" + b.deployment_id }, "deployment " + b.deployment_id) : "–"),
      el("td", {}, mayCancel && !done ? el("button", { type: "button", class: "quiet cancel-build", onclick: (e) => cancel(b, e.currentTarget) }, "Cancel") : null));
  }

  async function cancel(b, button) {
    if (!(await ask("Cancel build " + b.id + "?", ["Build " + b.id + " of " + (b.branch || "?") + " (" + (b.commit || "").slice(0, 12) + ") stops where it is: nothing it has not deployed yet is deployed.", "What is live stays live."], "Cancel build " + b.id))) return;
    button.disabled = true;
    try {
      await berth.json("POST", "/api/v1/builds/" + b.id + "/cancel");
      load();
    } catch (e) {
      berth.flash("Cancel build " + b.id + ": " + e.message);
      button.disabled = false;
    }
  }

  async function load() {
    try {
      const bs = await berth.json("GET", "/api/v1/apps/" + encodeURIComponent(app) + "/builds?limit=50");
      document.getElementById("builds-empty").hidden = bs.length > 0;
      document.getElementById("build-rows").replaceChildren(...bs.map(row));
      state.textContent = "updated " + new Date().toLocaleTimeString();
      state.className = "live-dot on";
    } catch (e) {
      berth.flash("Could not load the builds of " + app + ": " + e.message);
    }
  }
  load();
  setInterval(() => {
    if (!document.querySelector("#confirm[open]")) load();
  }, 2000);
});
