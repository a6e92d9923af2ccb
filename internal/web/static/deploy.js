// deploy.js: deploy an uploaded Compose file (the console's deploy
// button). The server reads it (POST .../compose/check: what it would
// deploy, changing nothing); the confirmation says what changes against
// the live release; then POST .../compose (?canary=N) deploys it, as
// berth deploy [--canary N] does, and the deployment's page follows it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el, ask, act } = berth;
  const role = document.body.dataset.role;
  const file = document.getElementById("deploy-file");
  const appIn = document.getElementById("deploy-app");
  const envIn = document.getElementById("deploy-env");
  const canary = document.getElementById("deploy-canary");
  const percent = document.getElementById("deploy-percent");
  if (!["admin", "deployer", "ci"].includes(role)) {
    const note = document.getElementById("deploy-cannot");
    note.textContent = "Your role (" + role + ") may not deploy: that needs the deployer or admin role.";
    note.hidden = false;
    document.getElementById("deploy-submit").disabled = true;
  }
  canary.addEventListener("change", () => { percent.disabled = !canary.checked; });

  // The app's name from the file's top-level name:, when none is typed.
  file.addEventListener("change", async () => {
    const f = file.files[0];
    if (!f || appIn.value.trim()) return;
    const m = /^name:\s*["']?([a-z0-9][a-z0-9_-]*)["']?\s*$/m.exec(await f.text());
    if (m) appIn.value = m[1];
  });

  // liveOf is app/env's live release, or null for an environment that
  // has none (a new app: asked of the list, so that no request fails).
  async function liveOf(base, app, env) {
    const apps = await berth.json("GET", "/api/v1/apps");
    const a = apps.find((x) => x.name === app);
    if (!a || !(a.envs || []).includes(env)) return null;
    const rels = await berth.json("GET", base + "/releases");
    return rels.find((r) => r.status === "live") || null;
  }

  // described is a release-like view of the app the server read, for
  // berth.changes.
  function described(a) {
    return { services: Object.fromEntries(a.services.map((s) => [s.name, { image: s.image }])), spec: a };
  }

  document.getElementById("deploy-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = document.getElementById("deploy-submit");
    const f = file.files[0];
    const app = appIn.value.trim(), env = envIn.value.trim();
    if (!f) {
      berth.flash("Choose the Compose file to deploy.");
      return;
    }
    const n = Number(percent.value);
    if (canary.checked && (!Number.isInteger(n) || n < 1 || n > 99)) {
      berth.flash("Give the canary a whole percentage of clients from 1 to 99.");
      return;
    }
    const base = "/api/v1/apps/" + encodeURIComponent(app) + "/envs/" + encodeURIComponent(env);
    const body = new Blob([await f.text()], { type: "application/yaml" });
    berth.flash("");
    button.disabled = true;
    let chk, live;
    try {
      [chk, live] = await Promise.all([berth.json("POST", base + "/compose/check", body), liveOf(base, app, env)]);
    } catch (e) {
      berth.flash("berth could not deploy " + f.name + ": " + e.message);
      button.disabled = false;
      return;
    }
    button.disabled = false;
    const lines = [];
    const services = chk.app.services.map((s) => s.name + ": " + s.image + ", " + s.replicas + " replica(s)" + ((s.hosts || []).length ? ", for " + s.hosts.join(", ") : ""));
    if (!live) {
      lines.push(app + "/" + env + " has no live release: this is its first, from " + f.name + ".", ...services);
    } else if (canary.checked) {
      lines.push("A new release of " + app + "/" + env + " from " + f.name + " starts beside release " + live.id + " and takes " + n + "% of clients (sticky by the berth_canary cookie); its services without hosts wait for promote.");
      lines.push(...berth.changes(live, described(chk.app)));
    } else {
      lines.push("A new release of " + app + "/" + env + " from " + f.name + " replaces release " + live.id + " through the zero-downtime switch:");
      lines.push(...berth.changes(live, described(chk.app)));
    }
    for (const w of chk.warnings) lines.push("warning: " + w);
    for (const note of chk.notes) lines.push("note: " + note);
    const title = canary.checked ? "Start a canary of " + app + "/" + env + " at " + n + "%?" : "Deploy " + f.name + " to " + app + "/" + env + "?";
    if (!(await ask(title, lines, canary.checked ? "Start the canary" : "Deploy"))) return;
    act(base + "/compose" + (canary.checked ? "?canary=" + n : ""), body, button);
  });
});
