// deployment.js: a deployment's progress, streamed as it happens (the
// lines berth deploy prints) from GET /api/v1/deployments/ID/progress,
// then its outcome.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const id = document.body.dataset.deployment;
  const pre = document.getElementById("progress");
  const badge = document.getElementById("state");

  function pad(s, n) {
    return " ".repeat(Math.max(0, n - s.length)) + s;
  }

  function about(d) {
    const link = document.getElementById("app-link");
    link.href = "/apps/" + encodeURIComponent(d.app) + "/envs/" + encodeURIComponent(d.env);
    link.textContent = d.app + "/" + d.env;
    document.getElementById("about").textContent = d.kind + " of " + d.app + "/" + d.env + " to release " + d.release_id +
      (d.from_release_id ? " (from release " + d.from_release_id + ")" : "") + (d.created_by ? ", by " + d.created_by : "") +
      ", started " + berth.when(d.started_at);
  }

  berth.json("GET", "/api/v1/deployments/" + encodeURIComponent(id)).then(about).catch((e) => berth.flash("Could not load deployment " + id + ": " + e.message));

  const es = berth.stream("/api/v1/deployments/" + encodeURIComponent(id) + "/progress");
  es.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    badge.textContent = "running";
    badge.className = "badge busy";
    pre.append(pad(berth.seconds(p.elapsed), 8) + "  " + p.message + "\n");
  });
  es.addEventListener("result", (e) => {
    es.close();
    const r = JSON.parse(e.data);
    const d = r.deployment;
    const out = document.getElementById("outcome");
    if (d) {
      about(d);
      const live = d.status === "succeeded";
      badge.textContent = live ? ({ canary: "canary", remove: "removed", scale: "scaled" }[d.kind] || "live") : d.status;
      badge.className = "badge " + (live ? "ok" : "bad");
      const lines = berth.outcomeLines(d);
      if (!r.ok && r.error && !lines.some((l) => l.includes(r.error))) lines.push(r.error);
      out.replaceChildren(...lines.map((l) => berth.el("p", {}, l)));
    } else {
      badge.textContent = r.ok ? "done" : "failed";
      badge.className = "badge " + (r.ok ? "ok" : "bad");
      out.replaceChildren(berth.el("p", {}, r.error || ""));
    }
  });
  es.addEventListener("error", () => {
    if (es.readyState === EventSource.CLOSED) return;
    berth.checkSession();
  });
});
