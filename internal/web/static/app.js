// app.js: one app environment: what runs now, its releases newest
// first and its deployments, with redeploy, rollback and scale. Each action
// asks for confirmation saying what will change, then calls the same
// API route as the CLI and opens the deployment's page.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el, ask, act, changes } = berth;
  const app = document.body.dataset.app;
  const env = document.body.dataset.env;
  const base = "/api/v1/apps/" + encodeURIComponent(app) + "/envs/" + encodeURIComponent(env);
  // The API decides; the page only does not offer what the role may not
  // do (rollback, redeploy and scale need the deployer or admin role).
  const role = document.body.dataset.role;
  const mayOperate = role === "admin" || role === "deployer";
  if (!mayOperate) {
    const note = document.getElementById("cannot");
    note.textContent = "Your role (" + role + ") may not roll back, redeploy, scale, run a canary or turn maintenance on: that needs the deployer or admin role.";
    note.hidden = false;
  }
  let releases = [];
  let status = null;
  let lastSeen = "";

  function images(r) {
    return Object.keys(r.services || {}).sort().map((s) => {
      const si = r.services[s];
      return el("div", {}, s + ": " + si.image + " ", el("code", { title: si.image_id }, berth.shortDigest(si.image_id)));
    });
  }

  function commits(r) {
    const cs = new Set(Object.values(r.services || {}).map((si) => berth.commitOf(si.image)).filter(Boolean));
    return [...cs].join(", ") || "–";
  }

  function outcome(r) {
    const badge = el("span", { class: "badge " + ({ live: "ok", failed: "bad", canary: "warn" }[r.status] || "") }, r.status.replace("_", " "));
    return el("span", {}, badge, r.reason ? el("div", { class: "why" }, r.reason) : null);
  }

  // restorable reports whether a rollback may go to r (as the server
  // decides: a release that was live once, still kept).
  function restorable(r) {
    return (r.status === "superseded" || r.status === "rolled_back") && !r.removed_at;
  }

  // defaultTarget is the release berth rollback goes to by default:
  // the one most recently replaced by a deploy.
  function defaultTarget() {
    let best = null;
    for (const r of releases) {
      if (r.status !== "superseded" || r.removed_at) continue;
      if (!best || new Date(r.ended_at) > new Date(best.ended_at)) best = r;
    }
    return best;
  }

  // canaryRuns: while a canary runs, the server refuses another
  // deployment; the canary's own buttons promote or abort it.
  function canaryRuns() {
    return !!(status && status.canary);
  }

  function live() {
    return releases.find((r) => r.status === "live") || null;
  }

  function renderReleases() {
    const rows = releases.map((r) => el("tr", { "data-release": r.id },
      el("th", { scope: "row" }, String(r.id)),
      el("td", {}, ...images(r)),
      el("td", {}, commits(r)),
      el("td", {}, r.created_by || "–"),
      el("td", {}, el("time", { datetime: r.created_at }, berth.when(r.created_at))),
      el("td", {}, outcome(r)),
      el("td", {}, mayOperate && restorable(r) && !canaryRuns() ? el("button", { type: "button", class: "quiet rollback-to", "data-to": r.id, onclick: () => confirmRollback(r) }, "Roll back to " + r.id) : null)));
    document.querySelector("#releases tbody").replaceChildren(...rows);
    const target = defaultTarget();
    const rb = document.getElementById("rollback");
    const canary = canaryRuns();
    rb.disabled = !mayOperate || !target || !live() || canary;
    rb.textContent = canary ? "Roll back (a canary runs: promote or abort it first)" : target ? "Roll back to release " + target.id : "Roll back (no earlier good release)";
    document.getElementById("redeploy").disabled = !mayOperate || !live() || canary;
  }

  function renderStatus() {
    const st = status;
    const lr = live();
    const parts = [lr ? "Release " + lr.id + " is live" + (lr.live_at ? " since " + berth.when(lr.live_at) : "") : "Nothing is live"];
    if (st.deploying) parts.push("a deployment is running");
    if (st.maintenance) parts.push("in maintenance (503)");
    if (st.canary) parts.push("release " + st.canary.release.id + " is a canary at " + st.canary.weight + "%");
    document.getElementById("summary").textContent = parts.join("; ") + ".";
    const mb = document.getElementById("maintenance");
    mb.textContent = st.maintenance ? "Maintenance off" : "Maintenance on";
    mb.dataset.on = st.maintenance ? "true" : "false";
    mb.disabled = !mayOperate || mb.dataset.busy === "true";
    // Each service's replicas: healthy of desired, replacing, and what
    // self-healing says.
    const reps = (st.services || []).filter((s) => s.replicas > 0).map((s) =>
      el("li", { "data-service": s.name }, s.name + " " + (s.healthy || 0) + "/" + s.replicas + " healthy" +
        (s.replacing ? ", " + s.replacing + " replacing" : "") + (s.healing ? " (" + s.healing + ")" : "")));
    document.getElementById("replicas").replaceChildren(...reps);
    const rows = [];
    for (const s of st.services || []) {
      if (!(s.containers || []).length) rows.push(el("tr", {}, el("th", { scope: "row" }, s.name), el("td", { colspan: 6 }, "no containers")));
      for (const c of s.containers || []) {
        rows.push(el("tr", {},
          el("th", { scope: "row" }, s.name), el("td", {}, c.name), el("td", {}, c.release),
          el("td", {}, c.state + (c.restart_count ? " (" + c.restart_count + " restarts)" : "")),
          el("td", {}, (c.health || "–") + (c.health_error && c.health !== "healthy" ? " (" + c.health_error + ")" : "")),
          el("td", { class: "num" }, c.health ? (c.rps || 0).toFixed(1) : "–"),
          el("td", { class: "num" }, c.health ? (100 * (c.error_rate || 0)).toFixed(1) + "%" : "–")));
      }
    }
    document.querySelector("#containers tbody").replaceChildren(...rows);
  }

  // renderScale keeps one form per service of the live release; the
  // forms are made again only when the services change, so a count
  // being typed survives the live updates.
  let scaleKey = "";
  function renderScale() {
    const st = status;
    const section = document.getElementById("scale-section");
    const svcs = (st.services || []).filter((s) => s.replicas !== undefined);
    section.hidden = !mayOperate || !st.live || !svcs.length;
    const key = JSON.stringify([st.live && st.live.id, svcs.map((s) => s.name)]);
    if (key !== scaleKey) {
      scaleKey = key;
      // A count typed in the form it replaces is kept.
      const typed = {};
      for (const f of document.querySelectorAll("form.scale")) {
        const i = f.querySelector("input");
        if (i && i.value !== f.dataset.now) typed[f.dataset.service] = i.value;
      }
      document.getElementById("scale-forms").replaceChildren(...svcs.map((s) => {
        const input = el("input", { type: "number", min: "0", id: "scale-" + s.name, name: s.name, value: typed[s.name] || String(s.replicas), required: true });
        const form = el("form", { class: "scale", "data-service": s.name, "data-release": String(st.live ? st.live.id : "") },
          el("label", { for: "scale-" + s.name }, s.name + " replicas "), input,
          el("span", { class: "hint now" }, ""),
          el("button", { type: "submit" }, "Scale " + s.name));
        form.addEventListener("submit", (e) => {
          e.preventDefault();
          confirmScale(s.name, Number(input.value), form.querySelector("button"));
        });
        return form;
      }));
    }
    for (const s of svcs) {
      const f = document.querySelector('form.scale[data-service="' + CSS.escape(s.name) + '"]');
      if (!f) continue;
      f.dataset.now = String(s.replicas);
      const running = (s.containers || []).filter((c) => c.state === "running" && c.release === String(st.live.id)).length;
      f.querySelector(".now").textContent = " now " + s.replicas + (running !== s.replicas ? " (" + running + " running)" : "");
    }
  }

  async function confirmScale(svc, n, button) {
    const f = document.querySelector('form.scale[data-service="' + CSS.escape(svc) + '"]');
    const now = Number(f.dataset.now);
    const lr = live();
    if (!Number.isInteger(n) || n < 0) {
      berth.flash("Give " + svc + " a whole number of replicas, 0 or more.");
      return;
    }
    if (n === now) {
      berth.flash(svc + " has " + now + " replicas already.");
      return;
    }
    const lines = ["Service " + svc + " of " + app + "/" + env + " goes from " + now + " to " + n + " replicas of release " + (lr ? lr.id : "?") + " (no new release).",
      n > now ? "The new containers take traffic once healthy." : "The containers taken out drain their requests before they stop."];
    if (await ask("Scale " + svc + " to " + n + "?", lines, "Scale to " + n)) {
      act(base + "/scale", { services: [{ service: svc, replicas: n }] }, button);
    }
  }

  function renderDeployments(deps) {
    const rows = deps.map((d) => el("tr", {},
      el("th", { scope: "row" }, el("a", { href: "/deployments/" + d.id }, String(d.id))),
      el("td", {}, d.kind), el("td", {}, String(d.release_id)), el("td", {}, d.created_by || "–"),
      el("td", {}, el("time", { datetime: d.started_at }, berth.when(d.started_at))),
      el("td", {}, el("span", { class: "badge " + ({ succeeded: "ok", failed: "bad", interrupted: "warn" }[d.status] || "busy") }, d.status),
        d.error ? el("div", { class: "why" }, d.error) : null),
      el("td", { class: "num" }, d.counted ? berth.thousands(d.served) + " served, " + berth.thousands(d.failed) + " failed" : "–")));
    document.querySelector("#deployments tbody").replaceChildren(...rows);
  }

  // renderActivity lists the app environment's events, newest first:
  // crashes, OOM kills, restarts, replacements, scaling, drains.
  const kinds = { died: "bad", oom: "bad", replace_failed: "bad", all_failing: "bad", restarted: "warn", replaced: "warn" };
  function renderActivity(evs) {
    document.getElementById("activity-empty").hidden = evs.length > 0;
    document.querySelector("#activity tbody").replaceChildren(...evs.map((e) => el("tr", { "data-kind": e.kind },
      el("td", {}, el("time", { datetime: e.time, title: berth.when(e.time) }, berth.ago(e.time))),
      el("td", {}, el("span", { class: "badge " + (kinds[e.kind] || "") }, e.kind)),
      el("td", {}, e.service || ""),
      el("td", { class: "why" }, e.message.split("\n")[0]))));
  }
  async function loadActivity() {
    try {
      renderActivity(await berth.json("GET", base + "/events?limit=30"));
    } catch (e) {
      berth.flash("Could not load the activity of " + app + "/" + env + ": " + e.message);
    }
  }

  // The configuration and the secrets' names (a deployer's or an
  // admin's to read); each change rolls out a release.
  let config = null;
  async function loadConfig() {
    if (!mayOperate) return;
    try {
      config = await berth.json("GET", base + "/config");
    } catch (e) {
      return; // not theirs to read: the section stays hidden
    }
    const unset = (what, key, path, method, body) => el("button", { type: "button", class: "quiet", "data-unset": key, onclick: async (ev) => {
      const button = ev.currentTarget; // null once the event is dispatched
      if (!(await ask("Unset " + key, ["A new release of the live one without " + what + " " + key + ", rolled out through the zero-downtime switch."], "Unset and roll out"))) return;
      act(path, body, button, method);
    } }, "Unset");
    document.querySelector("#config tbody").replaceChildren(...Object.keys(config.config || {}).sort().map((k) =>
      el("tr", { "data-key": k }, el("th", { scope: "row" }, k), el("td", { class: "line" }, config.config[k]),
        el("td", {}, unset("the variable", k, base + "/config", "POST", { unset: [k] })))));
    document.querySelector("#secrets tbody").replaceChildren(...(config.secrets || []).map((k) =>
      el("tr", { "data-secret": k }, el("th", { scope: "row" }, k), el("td", {}, "(hidden)"),
        el("td", {}, unset("the secret", k, base + "/secrets/" + encodeURIComponent(k), "DELETE")))));
    document.getElementById("config-section").hidden = false;
  }
  document.getElementById("config-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = document.getElementById("config-key").value.trim(), value = document.getElementById("config-value").value;
    const before = config && config.config ? config.config[key] : undefined;
    const lines = [before === undefined ? key + " is set (it is not set now)." : key + " changes from " + JSON.stringify(before) + ".",
      "A new release of the live one with it, rolled out through the zero-downtime switch."];
    if (!(await ask("Set " + key, lines, "Set and roll out"))) return;
    act(base + "/config", { set: { [key]: value } }, ev.submitter);
  });
  document.getElementById("secret-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = document.getElementById("secret-name").value.trim(), value = document.getElementById("secret-value").value;
    const had = config && (config.secrets || []).includes(name);
    if (!(await ask("Set secret " + name, [(had ? "The secret " + name + " gets a new value" : "The secret " + name + " is added") + " (the value is not shown).",
      "A new release of the live one with it, rolled out through the zero-downtime switch."], "Set and roll out"))) return;
    document.getElementById("secret-value").value = "";
    act(base + "/secrets/" + encodeURIComponent(name), new Blob([value], { type: "text/plain" }), ev.submitter, "PUT");
  });
  // renderJobs lists the live release's scheduled jobs with their next
  // and last runs (the last run's final output lines under it), with a
  // Run now button, as berth jobs and berth jobs run do.
  function renderJobs(jobs) {
    const section = document.getElementById("jobs-section");
    section.hidden = !jobs.length;
    const rows = jobs.map((j) => {
      const l = j.last;
      const badge = l ? el("span", { class: "badge " + ({ succeeded: "ok", failed: "bad", timed_out: "bad", interrupted: "warn", replaced: "warn" }[l.status] || "busy") },
        l.status.replace("_", " ") + (l.status === "failed" && l.exit_code >= 0 ? " (exit " + l.exit_code + ")" : "")) : null;
      const why = l ? [l.error, l.note].filter(Boolean).join("; ") : "";
      const tail = l && l.log && l.log.length ? el("pre", { class: "why" }, l.log.slice(-5).join("\n")) : null;
      const running = j.running ? " (" + j.running + " running)" : "";
      const skipped = j.skipped ? el("div", { class: "why" }, j.skipped + " run(s) skipped while one was going (concurrency: forbid)") : null;
      return el("tr", { "data-job": j.name },
        el("th", { scope: "row" }, j.name),
        el("td", {}, j.service),
        el("td", {}, el("code", {}, j.schedule), j.timezone ? " (" + j.timezone + ")" : ""),
        el("td", {}, j.next ? el("time", { datetime: j.next }, berth.when(j.next)) : "never"),
        el("td", {}, l ? el("span", {}, "#" + l.id + " " + l.trigger + " ", el("time", { datetime: l.started_at }, berth.when(l.started_at))) : "never"),
        el("td", {}, badge || "–", running, why ? el("div", { class: "why" }, why) : null, skipped, tail),
        el("td", {}, mayOperate ? el("button", { type: "button", class: "quiet run-job", onclick: (e) => confirmRunJob(j, e.target) }, "Run now") : null));
    });
    document.querySelector("#jobs tbody").replaceChildren(...rows);
  }

  let jobsAt = 0;
  async function loadJobs() {
    jobsAt = Date.now();
    if (!live()) { // the jobs are the live release's: none to ask for
      renderJobs([]);
      return;
    }
    try {
      renderJobs(await berth.json("GET", base + "/jobs"));
    } catch (e) {
      renderJobs([]); // nothing live, or a server that runs no jobs
    }
  }

  async function confirmRunJob(j, button) {
    const lines = ["A run of job " + j.name + " starts now in a one-off container of release " + j.release + " (service " + j.service + (j.command ? ", command " + j.command.join(" ") : "") + ").",
      "It is stopped after its timeout of " + j.timeout + "; concurrency " + j.concurrency + "."];
    if (!(await ask("Run " + j.name + " now?", lines, "Run " + j.name))) return;
    berth.flash("");
    button.disabled = true;
    try {
      const r = await berth.json("POST", base + "/jobs/" + encodeURIComponent(j.name) + "/runs");
      berth.flash("Run " + r.id + " of " + j.name + " started.");
      await loadJobs();
    } catch (e) {
      berth.flash(e.message.endsWith(".") ? e.message : e.message + ".");
    } finally {
      button.disabled = false;
    }
  }

  async function load() {
    try {
      const [rels, deps] = await Promise.all([berth.json("GET", base + "/releases"), berth.json("GET", base + "/deployments?limit=20")]);
      releases = rels.slice().sort((a, b) => b.id - a.id);
      loadJobs();
      renderReleases();
      renderDeployments(deps);
      if (status) renderStatus();
    } catch (e) {
      berth.flash("Could not load " + app + "/" + env + ": " + e.message);
    }
  }

  async function confirmRollback(target) {
    const from = live();
    if (!from) return;
    const lines = ["Release " + target.id + " goes live instead of release " + from.id + ", through the zero-downtime switch, with its recorded images (no rebuild):"].concat(changes(from, target));
    if (await ask("Roll " + app + "/" + env + " back to release " + target.id + "?", lines, "Roll back to " + target.id)) {
      act(base + "/rollback", { to: target.id }, document.getElementById("rollback"));
    }
  }

  // Maintenance: every route of the environment answers 503 (with
  // Retry-After and berth's page) until it is turned off; nothing stops.
  document.getElementById("maintenance").addEventListener("click", async (ev) => {
    const b = ev.currentTarget;
    const on = b.dataset.on !== "true";
    const lines = on
      ? ["Every route of " + app + "/" + env + " answers 503 (Retry-After, berth's maintenance page) until you turn it off.", "The containers keep running; nothing is deployed or stopped."]
      : ["The routes of " + app + "/" + env + " serve the live release again."];
    if (!(await ask(on ? "Turn maintenance on" : "Turn maintenance off", lines, on ? "Turn it on" : "Turn it off"))) return;
    berth.flash("");
    b.dataset.busy = "true";
    b.disabled = true;
    try {
      await berth.json("PUT", base + "/maintenance", { on });
    } catch (e) {
      berth.flash("Maintenance " + (on ? "on" : "off") + ": " + e.message);
    } finally {
      b.dataset.busy = "false";
      b.disabled = !mayOperate;
    }
  });

  document.getElementById("rollback").addEventListener("click", () => {
    const t = defaultTarget();
    if (t) confirmRollback(t);
  });
  document.getElementById("redeploy").addEventListener("click", async () => {
    const lr = live();
    if (!lr) return;
    const lines = ["A new release of " + app + "/" + env + " with release " + lr.id + "'s definition and images (no pull, no build) and the environment's current configuration and secrets, through the zero-downtime switch.",
      "Images: " + Object.keys(lr.services || {}).sort().map((s) => s + " " + lr.services[s].image).join(", ")];
    if (await ask("Redeploy release " + lr.id + "?", lines, "Redeploy")) {
      act(base + "/redeploy", undefined, document.getElementById("redeploy"));
    }
  });

  load();
  loadConfig();
  let lastHappened = "";
  const es = berth.stream("/api/v1/status/events");
  es.addEventListener("status", (e) => {
    const st = JSON.parse(e.data).find((s) => s.app === app && s.env === env);
    if (!st) return;
    status = st;
    renderStatus();
    renderScale();
    document.dispatchEvent(new CustomEvent("berth:status", { detail: { status: st } })); // canary.js
    // The containers' set and states changed: something happened to
    // them (a crash, a replacement, a scale): the activity again.
    const happened = JSON.stringify((st.services || []).map((s) => [s.name, s.replicas, s.healthy, s.replacing, (s.containers || []).map((c) => [c.id, c.state, c.health, c.restart_count])]));
    if (happened !== lastHappened) {
      lastHappened = happened;
      loadActivity();
    }
    if (Date.now() - jobsAt > 2000) loadJobs(); // runs start and end between deployments
    const seen = JSON.stringify([st.last_deployment && st.last_deployment.id, st.last_deployment && st.last_deployment.status, st.live && st.live.id, !!st.canary]);
    if (seen !== lastSeen) {
      lastSeen = seen;
      load();
    }
  });
  es.addEventListener("error", () => berth.checkSession());
});
