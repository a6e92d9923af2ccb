// branch.js: the deploy button of an app connected to a git repository,
// on its page: one button per branch that deploys to this environment.
// It queues the pipeline's build of the branch's head (POST
// .../deploy-branch, as berth builds deploy), after a confirmation, and
// opens the build's page, which links to the deployment it starts.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const { el, ask } = berth;
  const app = document.body.dataset.app;
  const env = document.body.dataset.env;
  const role = document.body.dataset.role;
  if (!["admin", "deployer", "ci"].includes(role)) return; // the connection is theirs to read
  let conn;
  try {
    conn = await berth.json("GET", "/api/v1/apps/" + encodeURIComponent(app) + "/connection");
  } catch (e) {
    berth.flash("Could not read " + app + "'s repository connection: " + e.message);
    return;
  }
  if (!conn.connected) return;
  const branches = Object.keys(conn.branches || {}).filter((b) => conn.branches[b] === env).sort();
  const box = document.getElementById("branch-deploy");
  box.replaceChildren(...branches.map((branch) => el("button", { type: "button", class: "deploy-branch", "data-branch": branch, onclick: (ev) => deploy(branch, ev.currentTarget) }, "Deploy the head of " + branch)));
  box.hidden = branches.length === 0;

  async function deploy(branch, button) {
    const lines = ["berth reads the head of " + branch + " from " + conn.repo + " now, builds the images of " + conn.file + " (their tests included) and deploys it to " + app + "/" + env + " through the zero-downtime switch, as a push to " + branch + " would.",
      "A build of " + branch + " still queued is superseded. The build's page follows it and links to its deployment."];
    if (!(await ask("Deploy the head of " + branch + "?", lines, "Build and deploy " + branch))) return;
    berth.flash("");
    button.disabled = true;
    try {
      const b = await berth.json("POST", "/api/v1/apps/" + encodeURIComponent(app) + "/envs/" + encodeURIComponent(env) + "/deploy-branch", { branch });
      location.assign("/builds/" + b.id);
    } catch (e) {
      berth.flash("Deploy the head of " + branch + ": " + e.message);
      button.disabled = false;
    }
  }
});
