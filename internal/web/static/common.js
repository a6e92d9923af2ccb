// common.js: what every console page shares. Every call goes to the
// same /api/v1 routes the CLI uses, with the session cookie and, for a
// change, the session's CSRF value: the API's permission check decides.
"use strict";

const berth = (() => {
  const csrfMeta = document.querySelector('meta[name="berth-csrf"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  // expired sends the browser to the sign-in page, saying the session
  // ended, and back here after.
  let leaving = false;
  function expired() {
    if (leaving) return; // a stream and a request may both find out
    leaving = true;
    const next = location.pathname + location.search;
    location.assign("/login?why=expired&next=" + encodeURIComponent(next));
  }

  // ApiError is an API answer that is not a success, with its message.
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // request calls the API and returns the response; a 401 ends the page.
  async function request(method, path, body) {
    const opts = { method, headers: {}, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") {
      opts.headers["X-Berth-CSRF"] = csrf;
    }
    if (body instanceof Blob) { // a secret's value, a Compose file: sent as it is
      opts.headers["Content-Type"] = body.type || "text/plain";
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    if (res.status === 401 && path !== "/api/v1/session") {
      expired();
      throw new ApiError(401, "your session has ended");
    }
    if (!res.ok) {
      let msg = res.status + " " + res.statusText;
      try {
        const j = await res.json();
        if (j && j.error) msg = j.error;
      } catch (e) { /* not JSON */ }
      throw new ApiError(res.status, msg);
    }
    return res;
  }

  async function json(method, path, body) {
    const res = await request(method, path, body);
    return res.json();
  }

  // el builds an element: el("td", {class: "x"}, "text", child, ...).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // when is a time in the viewer's time zone; "" for none.
  function when(t) {
    if (!t || t.startsWith("0001-")) return "";
    const d = new Date(t);
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  }

  // ago is how long ago t was, roughly.
  function ago(t) {
    if (!t || t.startsWith("0001-")) return "";
    const s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
    if (s < 60) return Math.round(s) + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    if (s < 86400) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }

  // seconds formats a Go duration in nanoseconds as the CLI does.
  function seconds(ns) {
    return (ns / 1e9).toFixed(2) + "s";
  }

  // flash shows an error (what failed and what to do) above the page.
  function flash(msg) {
    const f = document.getElementById("flash");
    if (!f) return;
    f.textContent = msg;
    f.hidden = !msg;
  }

  // checkSession is for a live stream that broke: if the session has
  // ended, go to the sign-in page.
  async function checkSession() {
    try {
      const res = await fetch("/api/v1/session", { credentials: "same-origin" });
      if (res.status === 401) expired();
    } catch (e) { /* the server is away: the stream retries */ }
  }

  // shortDigest is an image ID's first 12 hex digits.
  function shortDigest(id) {
    if (!id) return "";
    const h = id.replace(/^sha256:/, "");
    return h.slice(0, 12);
  }

  // commitOf is the commit an image's tag names, when it looks like one
  // (berth tags what it builds with the commit).
  function commitOf(image) {
    const m = /:([0-9a-f]{7,40})$/.exec(image || "");
    return m ? m[1] : "";
  }

  // thousands is n with comma separators, as the CLI prints it.
  function thousands(n) {
    return String(n || 0).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // goDuration is a duration in milliseconds as Go prints it rounded to
  // the millisecond (905ms, 1.42s, 1m2.5s), as the CLI does.
  function goDuration(ms) {
    ms = Math.round(ms);
    if (ms < 1000) return ms + "ms";
    const trim = (x) => x.toFixed(3).replace(/\.?0+$/, "");
    if (ms < 60000) return trim(ms / 1000) + "s";
    const h = Math.floor(ms / 3600000), m = Math.floor((ms % 3600000) / 60000), sec = (ms % 60000) / 1000;
    return (h ? h + "h" : "") + m + "m" + trim(sec) + "s";
  }

  // outcomeLines are the last lines the CLI prints for a deployment.
  function outcomeLines(d) {
    const out = [];
    if (d.counted || d.served > 0 || d.failed > 0) {
      out.push("served " + thousands(d.served) + " requests during the " + d.kind + ", " + thousands(d.failed) + " failed");
    }
    const took = d.ended_at ? " (" + goDuration(new Date(d.ended_at) - new Date(d.started_at)) + ")" : "";
    if (d.status === "succeeded") {
      if (d.kind === "scale") out.push("scaled " + d.app + "/" + d.env + " release " + d.release_id + ": " + (d.scaled || []).map((c) => c.service + " " + c.from + " → " + c.to).join(", ") + took);
      else if (d.kind === "canary") out.push("release " + d.release_id + " of " + d.app + "/" + d.env + " is a canary" + took);
      else if (d.kind === "remove") out.push(d.app + "/" + d.env + " is removed" + took);
      else out.push("release " + d.release_id + " of " + d.app + "/" + d.env + " is live" + took);
    } else if (d.status !== "running") {
      out.push(d.kind + " " + d.id + " " + d.status + (d.error ? ": " + d.error : ""));
    }
    return out;
  }

  // followStream reads a deploy or rollback answer (newline-delimited
  // JSON) until it names its deployment, then opens that deployment's
  // page, which follows it to the end.
  async function startAndFollow(path, body, method) {
    const res = await request(method || "POST", path, body);
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line) continue;
        const ev = JSON.parse(line);
        const id = (ev.progress && ev.progress.deployment) || (ev.result && ev.result.deployment && ev.result.deployment.id);
        if (id) {
          reader.cancel().catch(() => {});
          location.assign("/deployments/" + id);
          return;
        }
        if (ev.result && !ev.result.ok) throw new ApiError(0, ev.result.error);
      }
    }
    throw new ApiError(0, "the server ended the answer before it named a deployment: see berth status");
  }

  // stream opens one of the API's live streams (server-sent events)
  // and handles what every page does the same way: "ended" (the
  // session no longer works: sign in again) and "problem" (a look
  // failed: say so until the next one works).
  function stream(path) {
    const es = new EventSource(path);
    es.addEventListener("ended", () => {
      es.close();
      expired();
    });
    es.addEventListener("problem", (e) => {
      flash("berth could not read the state: " + JSON.parse(e.data).error + ". The page tries again.");
    });
    return es;
  }

  // changes lists what a switch from release a to release b changes:
  // images, replicas, configuration keys.
  function changes(a, b) {
    const out = [];
    const svcs = new Set([...Object.keys(a.services || {}), ...Object.keys(b.services || {})]);
    for (const s of [...svcs].sort()) {
      const x = (a.services || {})[s], y = (b.services || {})[s];
      if (!x) out.push("service " + s + " starts: " + y.image);
      else if (!y) out.push("service " + s + " stops (not in " + (b.id ? "release " + b.id : "the new file") + ")");
      else if (!y.image_id) { // an uploaded file: its images are pulled when it deploys
        if (x.image !== y.image) out.push("image of " + s + ": " + x.image + " (" + shortDigest(x.image_id) + ") → " + y.image);
      } else if (x.image_id !== y.image_id) out.push("image of " + s + ": " + x.image + " (" + shortDigest(x.image_id) + ") → " + y.image + " (" + shortDigest(y.image_id) + ")");
    }
    const svcOf = (r) => Object.fromEntries(((r.spec && r.spec.services) || []).map((s) => [s.name, s]));
    const sa = svcOf(a), sb = svcOf(b);
    for (const s of Object.keys(sb).sort()) {
      if (!sa[s]) continue;
      if (sa[s].replicas !== sb[s].replicas) out.push("replicas of " + s + ": " + sa[s].replicas + " → " + sb[s].replicas);
      const ea = sa[s].environment || {}, eb = sb[s].environment || {};
      const changed = [...new Set([...Object.keys(ea), ...Object.keys(eb)])].sort().filter((k) => ea[k] !== eb[k]);
      if (changed.length) out.push("environment of " + s + ": " + changed.join(", "));
    }
    const ca = a.config || {}, cb = b.config || {};
    const keys = [...new Set([...Object.keys(ca), ...Object.keys(cb)])].sort().filter((k) => ca[k] !== cb[k]);
    if (keys.length) out.push("configuration keys: " + keys.join(", "));
    if (!out.length) out.push("the same images, replicas and configuration as now");
    return out;
  }

  // ask shows the confirmation dialog (the layout's) with what will
  // change; it resolves true on Confirm.
  function ask(title, lines, okText) {
    const dlg = document.getElementById("confirm");
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-body").replaceChildren(el("ul", { id: "confirm-changes" }, ...lines.map((l) => el("li", {}, l))));
    document.getElementById("confirm-ok").textContent = okText;
    return new Promise((resolve) => {
      dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
      dlg.showModal();
    });
  }

  // act starts a streamed change (a deploy, a rollback) and opens its
  // deployment's page; a refusal is shown above the page.
  async function act(path, body, button, method) {
    berth.flash("");
    button.disabled = true;
    try {
      await startAndFollow(path, body, method);
    } catch (e) {
      berth.flash(e.message.endsWith(".") ? e.message : e.message + ".");
      button.disabled = false;
    }
  }


  // buildBadge is a pipeline build's status as a badge.
  function buildBadge(status) {
    const cls = { succeeded: "ok", failed: "bad", cancelled: "warn", superseded: "warn", running: "busy", queued: "busy" }[status] || "";
    return el("span", { class: "badge " + cls }, status);
  }

  function signOut() {
    request("DELETE", "/api/v1/session")
      .catch(() => {})
      .finally(() => location.assign("/login?why=out"));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const b = document.getElementById("sign-out");
    if (b) b.addEventListener("click", signOut);
  });

  return { request, json, stream, expired, el, when, ago, seconds, thousands, flash, checkSession, shortDigest, commitOf, outcomeLines, startAndFollow, ask, act, changes, buildBadge, ApiError };
})();
