// login.js: the sign-in page. It posts to the API's sign-in route
// (POST /api/v1/session), which sets the session cookie.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const next = document.body.dataset.next || "/";
  async function signIn(body, form) {
    berth.flash("");
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const res = await fetch("/api/v1/session", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (res.status === 201) {
        location.assign(next);
        return;
      }
      let msg = "sign-in failed (" + res.status + ")";
      try { msg = (await res.json()).error || msg; } catch (e) { /* not JSON */ }
      berth.flash("Sign-in failed: " + msg + ".");
    } catch (e) {
      berth.flash("berth did not answer (" + e.message + "): is the server running?");
    } finally {
      button.disabled = false;
    }
  }
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn({ token: document.getElementById("token").value.trim() }, e.target);
  });
  document.getElementById("user-form").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn({ name: document.getElementById("name").value.trim(), password: document.getElementById("password").value }, e.target);
  });
});
