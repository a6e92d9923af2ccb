// canary.js: the canary of an app environment, on its page: who gets
// which share of clients, and the buttons that move the share, promote
// the canary or abort it, each after a confirmation saying what changes.
// It reads what app.js reads (the status stream), from app.js's
// "berth:status" event, and calls the routes the CLI calls: PUT .../canary
// (berth canary), POST .../promote (berth promote) and POST .../rollback
// (berth rollback, which removes a running canary).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el, ask, act } = berth;
  const app = document.body.dataset.app;
  const env = document.body.dataset.env;
  const base = "/api/v1/apps/" + encodeURIComponent(app) + "/envs/" + encodeURIComponent(env);
  const role = document.body.dataset.role;
  const mayOperate = role === "admin" || role === "deployer";
  const section = document.getElementById("canary-section");
  const input = document.getElementById("canary-weight");
  const buttons = ["canary-move", "canary-promote", "canary-abort"].map((id) => document.getElementById(id));
  let st = null;
  let busy = false;

  function render() {
    const c = st && st.canary;
    section.hidden = !c || !st.live;
    if (section.hidden) return;
    const share = (st.shares || []).find((s) => s.role === "canary");
    const now = share ? share.percent : 0;
    document.getElementById("canary-summary").replaceChildren(
      "Release " + c.release.id + " is a canary beside release " + st.live.id + ": weight ",
      el("strong", { id: "canary-now" }, c.weight + "%"),
      " of clients" + (c.healthy ? "" : " (it gets " + now + "% now)") + ", release " + st.live.id + " the rest; since ",
      el("time", { datetime: c.started_at }, berth.when(c.started_at)), ".");
    const un = document.getElementById("canary-unhealthy");
    un.hidden = c.healthy || !c.unhealthy;
    un.textContent = c.unhealthy ? "Unhealthy: " + c.unhealthy : "";
    // The share typed is kept; one not typed follows the server's.
    if (document.activeElement !== input && (input.value === "" || input.value === input.dataset.now)) input.value = String(c.weight);
    input.dataset.now = String(c.weight);
    for (const b of buttons) b.disabled = !mayOperate || busy;
    input.disabled = !mayOperate;
  }

  document.addEventListener("berth:status", (e) => {
    st = e.detail.status;
    render();
  });

  document.getElementById("canary-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const c = st && st.canary;
    if (!c) return;
    const n = Number(input.value);
    if (!Number.isInteger(n) || n < 1 || n > 99) {
      berth.flash("Give the canary a whole percentage of clients from 1 to 99 (promote it for every client, abort it for none).");
      return;
    }
    if (n === c.weight) {
      berth.flash("The canary has " + n + "% of clients already.");
      return;
    }
    const lines = ["Canary release " + c.release.id + " goes from " + c.weight + "% to " + n + "% of clients; release " + st.live.id + " gets the other " + (100 - n) + "%.",
      n > c.weight ? "Clients on the canary stay there; some of release " + st.live.id + "'s move to it." : "Some clients on the canary go back to release " + st.live.id + "; the others stay.",
      "No container starts or stops; no request is dropped."];
    if (!(await ask("Move the canary to " + n + "%?", lines, "Move to " + n + "%"))) return;
    berth.flash("");
    busy = true;
    render();
    try {
      const mv = await berth.json("PUT", base + "/canary", { weight: n });
      input.value = String(mv.weight);
      input.dataset.now = String(mv.weight);
    } catch (e) {
      berth.flash("Move the canary: " + e.message);
    } finally {
      busy = false;
      render();
    }
  });

  document.getElementById("canary-promote").addEventListener("click", async (ev) => {
    const button = ev.currentTarget; // null once the event is dispatched
    const c = st && st.canary;
    if (!c) return;
    const lines = ["Release " + c.release.id + " gets every client instead of " + c.weight + "%, through the zero-downtime switch; its services without hosts (workers) start now.",
      "Release " + st.live.id + "'s containers drain and stop; it is kept for a rollback. What changes against release " + st.live.id + ":"].concat(berth.changes(st.live, c.release));
    if (!c.healthy) lines.push("The canary is unhealthy now: berth refuses to promote it until it is healthy.");
    if (await ask("Promote canary release " + c.release.id + "?", lines, "Promote " + c.release.id)) {
      act(base + "/promote", undefined, button);
    }
  });

  document.getElementById("canary-abort").addEventListener("click", async (ev) => {
    const button = ev.currentTarget;
    const c = st && st.canary;
    if (!c) return;
    const lines = ["Canary release " + c.release.id + " is removed: its " + c.weight + "% of clients go back to release " + st.live.id + ", which stays live.",
      "Its containers drain and stop; it is recorded as rolled back."];
    if (await ask("Abort canary release " + c.release.id + "?", lines, "Abort the canary")) {
      act(base + "/rollback", undefined, button);
    }
  });
});
