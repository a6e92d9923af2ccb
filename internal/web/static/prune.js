// prune.js: berth prune from the overview (an admin's: POST
// /api/v1/prune, as berth prune [--build-cache]), after a confirmation
// saying what goes and what stays; the report is shown under the button.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("prune-form");
  if (!form || document.body.dataset.role !== "admin") return;
  form.hidden = false;

  function bytes(n) {
    const units = ["B", "kB", "MB", "GB", "TB"];
    let i = 0;
    for (; n >= 1000 && i < units.length - 1; i++) n /= 1000;
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = ev.submitter;
    const cache = document.getElementById("prune-cache").checked;
    const lines = ["Images of berth's apps that no rollback can target any more (each environment's newest kept releases and the live one keep theirs, and so does any container), images berth built that no kept release names once a day old, stopped one-off containers, copies of project files no kept release mounts, and failed releases beyond the kept history.",
      "Images of failed releases stay: a fixed configuration may deploy them again. Nothing that runs changes."];
    if (cache) lines.push("Also the build cache mounts (RUN --mount=type=cache) of every app: the next builds fill them again.");
    if (!(await berth.ask("Prune what berth no longer needs?", lines, "Prune"))) return;
    berth.flash("");
    button.disabled = true;
    const out = document.getElementById("prune-result");
    try {
      const r = await berth.json("POST", "/api/v1/prune" + (cache ? "?build_cache=true" : ""));
      out.textContent = "Removed " + r.images.length + " image(s)" + ((r.binds || []).length ? " and " + r.binds.length + " copies of project files" : "") +
        " and " + r.containers.length + " container(s), freed " + bytes(r.freed_bytes) + (cache ? "; the build cache freed " + bytes(r.build_cache_bytes || 0) : "") + ".";
      out.hidden = false;
    } catch (e) {
      berth.flash("Prune: " + e.message);
    } finally {
      button.disabled = false;
    }
  });
});
