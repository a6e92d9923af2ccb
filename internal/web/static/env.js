// env.js: clone an app environment from its page (POST .../clone, as
// berth env clone): the live release's definition and images and the
// configuration into a new environment, routed at host names the form
// gives (default: NEW.<host>). The confirmation says what is and is not
// copied; the deployment's page follows the clone's first deploy.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el, ask, act } = berth;
  const app = document.body.dataset.app;
  const env = document.body.dataset.env;
  const base = "/api/v1/apps/" + encodeURIComponent(app) + "/envs/" + encodeURIComponent(env);
  const role = document.body.dataset.role;
  const mayOperate = role === "admin" || role === "deployer";
  const section = document.getElementById("clone-section");
  const toIn = document.getElementById("clone-to");
  let st = null;
  let key = "";

  function routed() {
    return ((st && st.services) || []).filter((s) => (s.hosts || []).length);
  }

  // The host inputs are made again only when the routed services change,
  // so that what is typed survives the live updates.
  function render() {
    section.hidden = !mayOperate || !st || !st.live;
    if (section.hidden) return;
    const svcs = routed();
    const k = JSON.stringify(svcs.map((s) => [s.name, s.hosts]));
    if (k !== key) {
      key = k;
      document.getElementById("clone-hosts").replaceChildren(...svcs.map((s) =>
        el("label", {}, "Hosts of " + s.name + " ", el("input", { id: "clone-host-" + s.name, "data-service": s.name, "data-hosts": s.hosts.join(","), size: "32", spellcheck: "false" }))));
    }
    placeholders();
  }

  function placeholders() {
    const to = toIn.value.trim() || "NEW";
    for (const i of document.querySelectorAll("#clone-hosts input")) i.placeholder = i.dataset.hosts.split(",").map((h) => to + "." + h).join(", ");
  }
  toIn.addEventListener("input", placeholders);

  document.addEventListener("berth:status", (e) => {
    st = e.detail.status;
    render();
  });

  document.getElementById("clone-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = ev.submitter;
    const to = toIn.value.trim();
    if (!st || !st.live) return;
    if (to === env) {
      berth.flash("Clone into another environment than " + env + ".");
      return;
    }
    const hosts = {};
    const routes = [];
    for (const i of document.querySelectorAll("#clone-hosts input")) {
      const typed = i.value.split(",").map((h) => h.trim()).filter(Boolean);
      if (typed.length) hosts[i.dataset.service] = typed;
      routes.push(i.dataset.service + " at " + (typed.length ? typed : i.dataset.hosts.split(",").map((h) => to + "." + h)).join(", "));
    }
    const lines = ["A new environment " + app + "/" + to + " runs release " + st.live.id + "'s definition and images (the live release of " + env + "), with " + env + "'s configuration variables.",
      "It gets its own, empty volumes (a volume whose name the file fixes is shared, as Compose would: berth says which); secrets are not copied: set them for " + to + " after.",
      routes.length ? "Routed: " + routes.join("; ") + "." : "No service of it is routed.",
      app + "/" + env + " does not change."];
    if (!(await ask("Clone " + app + "/" + env + " into " + to + "?", lines, "Clone into " + to))) return;
    act(base + "/clone", { to, hosts }, button);
  });
});
