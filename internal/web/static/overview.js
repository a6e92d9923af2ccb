// overview.js: every app environment, live. The API's status stream
// (GET /api/v1/status/events, server-sent events) sends the whole list
// when it connects and again whenever it changes.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el } = berth;
  const tbody = document.getElementById("envs");
  const feed = document.getElementById("feed");

  function containers(st) {
    let healthy = 0, desired = 0, running = 0;
    for (const s of st.services || []) {
      desired += s.replicas || 0;
      for (const c of s.containers || []) {
        if (c.release !== String(st.live && st.live.id)) continue;
        if (c.state === "running") running++;
        if (c.health === "healthy" || (!c.health && c.state === "running")) healthy++;
      }
    }
    return { healthy, desired, running };
  }

  function traffic(st) {
    let rps = 0, errs = 0, routed = false;
    for (const s of st.services || []) {
      for (const c of s.containers || []) {
        if (!c.health) continue;
        routed = true;
        rps += c.rps || 0;
        errs += (c.rps || 0) * (c.error_rate || 0);
      }
    }
    if (!routed) return { rps: "–", share: "–" };
    return { rps: rps.toFixed(1), share: rps > 0 ? (100 * errs / rps).toFixed(1) + "%" : "0.0%" };
  }

  // latency is the p99 of the last minute, as the API reports it.
  function latency(st) {
    const s = st.p99_seconds;
    if (!s) return "–";
    return s < 1 ? (s * 1000).toFixed(s < 0.01 ? 1 : 0) + " ms" : s.toFixed(2) + " s";
  }

  function lastDeployment(d) {
    if (!d) return "none yet";
    const who = d.created_by ? " by " + d.created_by : "";
    return el("span", {},
      el("a", { href: "/deployments/" + d.id }, d.kind + " " + d.id),
      " " + d.status + who + ", ",
      el("time", { datetime: d.started_at, title: berth.when(d.started_at) }, berth.ago(d.started_at)),
      d.counted ? "; " + berth.thousands(d.served) + " requests served, " + berth.thousands(d.failed) + " failed" : null,
      d.error ? el("span", { class: "why" }, " — " + d.error.split("\n")[0]) : null);
  }

  function stateBadges(st) {
    const out = [];
    if (st.deploying) out.push(el("span", { class: "badge busy" }, "deploying"));
    if (st.maintenance) out.push(el("span", { class: "badge warn" }, "maintenance (503)"));
    if (st.canary) out.push(el("span", { class: "badge" }, "canary"));
    if (!out.length) out.push(el("span", { class: "badge ok" }, "serving"));
    return out;
  }

  // cell sets a cell's content when what it shows changed (sig): the
  // page updates in place, so a click in progress is never lost to a
  // row that was replaced under the pointer.
  function cell(td, sig, ...content) {
    if (td.dataset.sig === sig) return;
    td.dataset.sig = sig;
    td.replaceChildren(...content);
  }

  const rows = new Map(); // "app/env" → its row

  function rowOf(st) {
    const key = st.app + "/" + st.env;
    let tr = rows.get(key);
    if (!tr) {
      const link = "/apps/" + encodeURIComponent(st.app) + "/envs/" + encodeURIComponent(st.env);
      tr = el("tr", { "data-app": st.app, "data-env": st.env },
        el("th", { scope: "row" }, el("a", { href: link }, st.app)),
        el("td", { "data-label": "Environment" }, st.env),
        el("td", { class: "live-release", "data-label": "Live release" }),
        el("td", { class: "containers", title: "healthy / desired", "data-label": "Containers" }),
        el("td", { class: "num rps", "data-label": "Requests/s" }), el("td", { class: "num errors", "data-label": "5xx" }),
        el("td", { class: "num p99", "data-label": "p99" }),
        el("td", { class: "last", "data-label": "Last deployment" }), el("td", { class: "state", "data-label": "State" }));
      rows.set(key, tr);
    }
    return tr;
  }

  function render(list) {
    document.getElementById("empty").hidden = list.length > 0;
    const seen = new Set();
    let prev = null;
    for (const st of list) {
      const tr = rowOf(st);
      seen.add(st.app + "/" + st.env);
      const [, , live, cont, rps, errs, p99, last, state] = tr.children;
      const c = containers(st);
      const t = traffic(st);
      const lr = st.live ? "release " + st.live.id : "none";
      cell(live, lr, lr);
      cont.classList.toggle("bad", c.healthy < c.desired);
      cell(cont, c.healthy + "/" + c.desired, c.healthy + "/" + c.desired);
      cell(rps, t.rps, t.rps);
      cell(errs, t.share, t.share);
      const q = latency(st);
      cell(p99, q, q);
      const d = st.last_deployment;
      cell(last, d ? JSON.stringify([d.id, d.status, d.error, d.served, d.failed, berth.ago(d.started_at)]) : "none", lastDeployment(d));
      cell(state, JSON.stringify([st.deploying, st.maintenance, !!st.canary]), ...stateBadges(st));
      // In the list's order, moving a row only when it is out of place.
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== tr) tbody.insertBefore(tr, want);
      prev = tr;
    }
    for (const [key, tr] of rows) {
      if (!seen.has(key)) {
        tr.remove();
        rows.delete(key);
      }
    }
  }

  const es = berth.stream("/api/v1/status/events");
  es.addEventListener("status", (e) => {
    feed.textContent = "live";
    feed.title = "updated " + new Date().toLocaleTimeString();
    feed.className = "live-dot on";
    berth.flash("");
    render(JSON.parse(e.data));
  });
  es.addEventListener("error", () => {
    feed.textContent = "reconnecting…";
    feed.className = "live-dot";
    berth.checkSession();
  });
});
