// charts.js: the charts of an app environment are SVG images the server
// draws (GET /apps/APP/envs/ENV/charts/KIND.svg, from the API's
// .../traffic); this reloads them every 10 seconds with the viewer's
// time zone and range (the last hour or day), and lists the marks (the same API answer) below them,
// newest first.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { el } = berth;
  const app = document.body.dataset.app;
  const env = document.body.dataset.env;
  const page = "/apps/" + encodeURIComponent(app) + "/envs/" + encodeURIComponent(env);
  const tz = -new Date().getTimezoneOffset();
  const state = document.getElementById("charts-state");
  const range = () => document.getElementById("charts-range").value;
  const release = () => document.getElementById("charts-release").value;
  const query = () => "range=" + range() + (release() ? "&release=" + encodeURIComponent(release()) : "");
  for (const id of ["charts-range", "charts-release"]) document.getElementById(id).addEventListener("change", () => draw());
  // The releases to chart one by one, newest first.
  berth.json("GET", "/api/v1" + page + "/releases").then((rels) => {
    const sel = document.getElementById("charts-release");
    sel.append(...rels.slice().sort((a, b) => b.id - a.id).map((r) => el("option", { value: String(r.id) }, "release " + r.id + " (" + r.status.replace("_", " ") + ")")));
  }).catch((e) => berth.flash("Could not list the releases of " + app + "/" + env + ": " + e.message));

  async function marks() {
    const tr = await berth.json("GET", "/api/v1" + page + "/traffic?" + query());
    document.getElementById("marks-empty").hidden = tr.marks.length > 0;
    document.getElementById("mark-rows").replaceChildren(...tr.marks.slice().sort((a, b) => new Date(b.at) - new Date(a.at)).map((m) => el("tr", { "data-kind": m.kind },
      el("td", {}, el("time", { datetime: m.at }, berth.when(m.at))),
      el("td", {}, m.deployment ? el("a", { href: "/deployments/" + m.deployment }, m.text) : m.text))));
    return tr;
  }

  async function draw() {
    const at = Date.now();
    for (const img of document.querySelectorAll("img[data-chart]")) {
      img.src = page + "/charts/" + img.dataset.chart + ".svg?tz=" + tz + "&" + query() + "&at=" + at;
    }
    try {
      const tr = await marks();
      state.textContent = tr.points.length + " steps, updated " + new Date().toLocaleTimeString();
      state.className = "live-dot on";
    } catch (e) {
      berth.flash("Could not read the traffic of " + app + "/" + env + ": " + e.message);
    }
  }
  draw();
  setInterval(draw, 10000);
});
