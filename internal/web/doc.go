// Package web is berth's console: HTML pages from html/template and
// plain JavaScript and CSS from an embed.FS, served by berth server on
// the API listener at / (everything else there is the API's).
//
// Invariants:
//   - The console has no power of its own. Its pages' JavaScript calls
//     the same /api/v1 routes as the CLI, with the session cookie and
//     the X-Berth-CSRF header, so every read and every action passes
//     the API's permission table; the server side asks the API
//     in-process, with the request's cookie, who is signed in (GET
//     /api/v1/session) and whether they may read what a page is about
//     (an app's releases, a deployment) before it serves the page, and
//     holds no state of its own.
//   - Only the sign-in page and the static assets answer without
//     credentials; any other page without a working session sends the
//     browser to the sign-in page, saying so when a session ended.
//   - Every response of the console carries a Content-Security-Policy
//     that allows scripts, styles, images and connections from berth
//     itself only: no inline script, no third-party request. Every
//     asset is compiled into the binary; there is no build step.
package web
