// build.js: one build of the git pipeline: its steps and status (GET
// /api/v1/builds/ID, looked at every second until it ends), its log
// followed live (GET /api/v1/builds/ID/logs?follow=1, as berth builds
// logs -f), cancel, and the deployment it started.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el, ask } = berth;
  const id = document.body.dataset.build;
  const role = document.body.dataset.role;
  const mayCancel = role === "admin" || role === "deployer";
  const badge = document.getElementById("build-state");
  const cancelB = document.getElementById("build-cancel");
  let b = null;

  function render() {
    const done = !["queued", "running"].includes(b.status);
    badge.textContent = b.status;
    badge.className = "badge " + berth.buildBadge(b.status).className.replace(/^badge ?/, "");
    const link = document.getElementById("builds-link");
    link.href = "/apps/" + encodeURIComponent(b.app) + "/builds";
    link.textContent = b.app + " builds";
    document.getElementById("build-about").textContent = "The head of " + (b.branch || "?") + " (" + (b.commit || "").slice(0, 12) + ") of " + b.app +
      ", deploying to " + (b.env || "?") + (b.actor ? "; started by " + b.actor : "") + ", " + berth.when(b.created_at) + ".";
    const err = document.getElementById("build-error");
    err.hidden = !b.error;
    err.textContent = b.error || "";
    cancelB.hidden = done || !mayCancel;
    const dep = document.getElementById("build-deployment");
    dep.hidden = !b.deployment_id;
    if (b.deployment_id) {
      dep.href = "/deployments/" + b.deployment_id;
      dep.textContent = "Deployment " + b.deployment_id;
    }
    document.getElementById("build-steps").replaceChildren(...(b.steps || []).map((s) => el("li", {}, el("span", { class: "hint" }, s.elapsed + " "), s.message)));
  }

  async function look() {
    try {
      b = await berth.json("GET", "/api/v1/builds/" + encodeURIComponent(id));
      render();
      if (["queued", "running"].includes(b.status)) setTimeout(look, 1000);
    } catch (e) {
      berth.flash("Could not read build " + id + ": " + e.message + ". Reload the page to try again.");
    }
  }

  // follow streams the log as plain text lines until the build ends.
  async function follow() {
    const pre = document.getElementById("build-log");
    try {
      const res = await berth.request("GET", "/api/v1/builds/" + encodeURIComponent(id) + "/logs?follow=1");
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pre.append(dec.decode(value, { stream: true }));
      }
    } catch (e) {
      berth.flash("The build's log stopped: " + e.message + ". Reload the page to follow it again.");
    }
  }

  cancelB.addEventListener("click", async () => {
    if (!(await ask("Cancel build " + id + "?", ["Build " + id + " stops where it is: nothing it has not deployed yet is deployed.", "What is live stays live."], "Cancel build " + id))) return;
    cancelB.disabled = true;
    try {
      await berth.json("POST", "/api/v1/builds/" + encodeURIComponent(id) + "/cancel");
    } catch (e) {
      berth.flash("Cancel build " + id + ": " + e.message);
    } finally {
      cancelB.disabled = false;
    }
  });

  look();
  follow();
});
