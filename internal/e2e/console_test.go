package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/spec"
)

// jsString is s as a JavaScript string literal.
func jsString(s string) string { return strconv.Quote(s) }

// The console in a real browser against a real berth server on the
// real engine, under constant load through the proxy: sign in with the
// admin token; the overview lists an app as it is deployed and again
// when it is deployed a second time, pushed live; the app's page rolls
// it back with the button after a confirmation that says what changes,
// and the deployment's page streams it until it is live; the redeploy
// button does the same, and so does scaling a service from the page; a
// the audit log lists them with their actor and deployment; a revoked
// session sends the page to sign in; a
// viewer signs in with a password and is offered no rollback, which
// the API refuses anyway. No page logs a JavaScript error, fails a
// request or asks anything of a host that is not loopback, and no
// request through the proxy fails.
func TestConsole_SignInDeployRollBackInABrowser(t *testing.T) {
	eng := requireDocker(t)
	br := newBrowser(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir)
	tok := adminToken(t, dataDir)
	base := "http://" + srv.addrs.API
	name, host := newApp(t, eng)

	// Sign in: the overview sends the browser to the sign-in page.
	br.run(t, "open the console", 30*time.Second,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token-form")))
	br.waitFor(t, "the sign-in page", `location.pathname === "/login"`, 10*time.Second)
	br.screenshot(t, "sign-in")
	br.signIn(t, tok)
	br.waitFor(t, "the overview, connected", `location.pathname === "/" && document.getElementById("feed").textContent === "live"`, 30*time.Second)
	if who := br.text(t, "#who"); !strings.Contains(who, "admin-token") {
		t.Errorf("signed in as %q", who)
	}
	br.check(t, "sign-in")

	// Deploy twice (as the CLI does); the overview shows each live
	// release as it happens, without a reload.
	row := `document.querySelector('tr[data-app=` + jsString(name) + `]')`
	srv.deployOrFail(t, loadApp(t, name, host, appOpts{Version: "v1"}))
	br.waitFor(t, "the overview to list the app, release 1 live", row+` && `+row+`.querySelector(".live-release").textContent === "release 1"`, 10*time.Second)
	ld := startLoad(srv.addrs.HTTP, host, 4)
	defer func() { ld.stop() }()
	srv.deployOrFail(t, loadApp(t, name, host, appOpts{Version: "v2"}))
	pushed := time.Now()
	br.waitFor(t, "the overview to show release 2 live", row+`.querySelector(".live-release").textContent === "release 2"`, 10*time.Second)
	t.Logf("the overview showed release 2 %s after its deploy returned", time.Since(pushed).Round(time.Millisecond))
	if c := br.text(t, `tr[data-app="`+name+`"] .containers`); c != "2/2" {
		t.Errorf("containers healthy/desired: %q, want 2/2", c)
	}
	br.screenshot(t, "overview")
	if os.Getenv("BERTH_SCREENSHOTS") != "" { // and at a phone's width
		br.run(t, "phone width", 10*time.Second, chromedp.EmulateViewport(390, 844))
		br.screenshot(t, "overview-phone")
		br.run(t, "desktop width", 10*time.Second, chromedp.EmulateViewport(1280, 900))
	}
	br.check(t, "overview")

	// The app's page: roll back with the button.
	br.run(t, "open the app's page", 30*time.Second,
		chromedp.Click(chromedp.CSS(`tr[data-app="`+name+`"] th a`)),
		chromedp.WaitVisible(chromedp.CSS("#releases")))
	br.waitFor(t, "the rollback button for release 1", `!document.getElementById("rollback").disabled && document.getElementById("rollback").textContent === "Roll back to release 1"`, 30*time.Second)
	if rels := br.text(t, "#releases tbody"); !strings.Contains(rels, "admin-token") || !strings.Contains(rels, "live") || !strings.Contains(rels, "superseded") {
		t.Errorf("the releases table: %q", rels)
	}
	br.waitFor(t, "the app's page to show what runs", `document.getElementById("summary").textContent.startsWith("Release 2 is live") && document.querySelectorAll("#containers tbody tr").length === 2`, 30*time.Second)
	br.screenshot(t, "app")
	br.run(t, "ask to roll back", 10*time.Second,
		chromedp.Click(chromedp.CSS("#rollback")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "Release 1 goes live instead of release 2") || !strings.Contains(what, "environment of web: VERSION") {
		t.Errorf("the confirmation says %q", what)
	}
	br.screenshot(t, "app-rollback-confirmation")
	br.run(t, "confirm the rollback", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the deployment's page", `location.pathname.startsWith("/deployments/")`, 30*time.Second)
	br.waitFor(t, "the rollback to reach live", `document.getElementById("state").textContent === "live"`, 90*time.Second)
	br.screenshot(t, "deployment")
	if out := br.text(t, "#outcome"); !strings.Contains(out, "release 1 of "+name+"/production is live") {
		t.Errorf("the outcome says %q", out)
	}
	if lines := br.text(t, "#progress"); !strings.Contains(lines, "rolling "+name+"/production back from release 2 to release 1") {
		t.Errorf("the progress lines: %q", lines)
	}
	if code, body := get(t, srv.addrs.HTTP, host, "/"); code != 200 || !strings.Contains(body, "v1") {
		t.Errorf("after the rollback the app answers %d %q, want v1", code, body)
	}
	br.check(t, "rollback")

	// Redeploy the live release from its page.
	br.run(t, "back to the app's page", 30*time.Second,
		chromedp.Click(chromedp.CSS("#app-link")),
		chromedp.WaitVisible(chromedp.CSS("#releases")))
	br.waitFor(t, "the redeploy button", `!document.getElementById("redeploy").disabled && document.querySelector('#releases tr[data-release="1"]') !== null && document.querySelector('#releases tr[data-release="1"]').textContent.includes("live")`, 30*time.Second)
	br.run(t, "redeploy", 10*time.Second,
		chromedp.Click(chromedp.CSS("#redeploy")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the redeploy to reach live", `location.pathname.startsWith("/deployments/") && document.getElementById("state").textContent === "live"`, 90*time.Second)
	if out := br.text(t, "#outcome"); !strings.Contains(out, "release 3 of "+name+"/production is live") {
		t.Errorf("the redeploy's outcome says %q", out)
	}
	br.check(t, "redeploy")

	// Scale web 2 → 3 from the app's page.
	br.run(t, "back to the app's page", 30*time.Second,
		chromedp.Click(chromedp.CSS("#app-link")),
		chromedp.WaitVisible(chromedp.CSS("#scale-web")))
	// The form of the live release (3): one made for an older status is
	// made again when the page learns of release 3, and would lose the
	// count typed in it.
	br.waitFor(t, "the scale form of release 3 with the count now", `document.querySelector('form.scale[data-service="web"]') !== null && document.querySelector('form.scale[data-service="web"]').dataset.release === "3" && document.querySelector('form.scale[data-service="web"]').dataset.now === "2"`, 30*time.Second)
	br.run(t, "scale web to 3", 10*time.Second,
		chromedp.SetValue(chromedp.CSS("#scale-web"), "3"),
		chromedp.Click(chromedp.CSS(`form.scale[data-service="web"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "goes from 2 to 3 replicas of release 3") {
		t.Errorf("the scale's confirmation says %q", what)
	}
	br.run(t, "confirm the scale", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the scale to end", `location.pathname.startsWith("/deployments/") && document.getElementById("state").textContent === "scaled"`, 90*time.Second)
	if out := br.text(t, "#outcome"); !strings.Contains(out, "scaled "+name+"/production release 3: web 2 → 3") {
		t.Errorf("the scale's outcome says %q", out)
	}
	br.check(t, "scale")

	// The app's page shows the replicas now and the activity: the scale,
	// and the drain of the releases that left.
	br.run(t, "back to the app's page after the scale", 30*time.Second,
		chromedp.Click(chromedp.CSS("#app-link")),
		chromedp.WaitVisible(chromedp.CSS("#activity")))
	br.waitFor(t, "3/3 healthy and the scale in the activity", `document.querySelector('#replicas li[data-service="web"]') !== null && document.querySelector('#replicas li[data-service="web"]').textContent.startsWith("web 3/3 healthy") && [...document.querySelectorAll('#activity tr[data-kind="scaled"]')].some((tr) => tr.textContent.includes("from 2 to 3"))`, 30*time.Second)
	br.check(t, "activity")

	// Maintenance on from the page, after a confirmation: the app
	// answers 503 through the proxy; off again, it serves. (The load
	// pauses meanwhile: those 503s are asked for.)
	ld.stop()
	if ld.failed.Load() != 0 {
		t.Errorf("load through the proxy before maintenance: %s", ld.summary())
	}
	br.waitFor(t, "the maintenance button", `!document.getElementById("maintenance").disabled && document.getElementById("maintenance").textContent === "Maintenance on"`, 10*time.Second)
	br.run(t, "maintenance on", 10*time.Second,
		chromedp.Click(chromedp.CSS("#maintenance")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "answers 503") {
		t.Errorf("the maintenance confirmation says %q", what)
	}
	br.run(t, "confirm maintenance on", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the page in maintenance", `document.getElementById("summary").textContent.includes("in maintenance (503)") && document.getElementById("maintenance").textContent === "Maintenance off"`, 10*time.Second)
	if code, _ := get(t, srv.addrs.HTTP, host, "/"); code != 503 {
		t.Errorf("in maintenance the app answers %d, want 503", code)
	}
	br.run(t, "maintenance off", 10*time.Second,
		chromedp.Click(chromedp.CSS("#maintenance")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the page out of maintenance", `!document.getElementById("summary").textContent.includes("maintenance") && document.getElementById("maintenance").textContent === "Maintenance on"`, 10*time.Second)
	if code, _ := get(t, srv.addrs.HTTP, host, "/"); code != 200 {
		t.Errorf("out of maintenance the app answers %d, want 200", code)
	}
	br.check(t, "maintenance")
	ld = startLoad(srv.addrs.HTTP, host, 4)

	// The logs: each container's lines with its release, filtered.
	br.run(t, "open the logs", 30*time.Second,
		chromedp.Click(chromedp.CSS("#logs-link")),
		chromedp.WaitVisible(chromedp.CSS("#logs")))
	lineOf := `[...document.querySelectorAll("#log-lines tr")].some((tr) => tr.cells[1].textContent === "3" && tr.cells[0].textContent.startsWith(` + jsString(name+"-production-web-r3-") + `) && tr.cells[2].textContent.includes("listening on :8080"))`
	br.waitFor(t, "the live release's lines, with container and release", `document.getElementById("logs-state").textContent === "live" && `+lineOf, 30*time.Second)
	br.run(t, "filter the lines", 10*time.Second, chromedp.SendKeys(chromedp.CSS("#logs-filter"), "starting"))
	br.waitFor(t, "only the matching lines", `document.querySelectorAll("#log-lines tr").length > 0 && [...document.querySelectorAll("#log-lines tr")].every((tr) => tr.textContent.includes("starting"))`, 10*time.Second)
	br.run(t, "pause", 10*time.Second, chromedp.Click(chromedp.CSS("#logs-pause")))
	br.waitFor(t, "paused", `document.getElementById("logs-pause").textContent === "Follow"`, 5*time.Second)
	br.check(t, "logs")
	br.run(t, "back to the app's page from the logs", 30*time.Second,
		chromedp.Click(chromedp.CSS("#app-link")),
		chromedp.WaitVisible(chromedp.CSS("#activity")))

	// Configuration and a secret from the page: each a new release,
	// rolled out; the value reaches the containers, the secret's never
	// shows.
	br.waitFor(t, "the configuration section", `!document.getElementById("config-section").hidden`, 10*time.Second)
	br.run(t, "set GREETING", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#config-key"), "GREETING"),
		chromedp.SendKeys(chromedp.CSS("#config-value"), "hello from the console"),
		chromedp.Click(chromedp.CSS("#config-form button")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "GREETING is set") || !strings.Contains(what, "new release") {
		t.Errorf("the config confirmation says %q", what)
	}
	br.run(t, "confirm the config change", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the config rollout to reach live", `location.pathname.startsWith("/deployments/") && document.getElementById("state").textContent === "live"`, 90*time.Second)
	if code, body := get(t, srv.addrs.HTTP, host, "/env?name=GREETING"); code != 200 || body != "hello from the console" {
		t.Errorf("GREETING in the container: %d %q", code, body)
	}
	const secretValue = "console-secret-MARKER-51c3"
	br.run(t, "back to the app's page for a secret", 30*time.Second,
		chromedp.Click(chromedp.CSS("#app-link")),
		chromedp.WaitVisible(chromedp.CSS("#secret-form")))
	br.waitFor(t, "GREETING listed", `document.querySelector('#config tr[data-key="GREETING"]') !== null`, 10*time.Second)
	br.run(t, "set the secret API_TOKEN", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#secret-name"), "API_TOKEN"),
		chromedp.SendKeys(chromedp.CSS("#secret-value"), secretValue),
		chromedp.Click(chromedp.CSS("#secret-form button")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the secret's rollout to reach live", `location.pathname.startsWith("/deployments/") && document.getElementById("state").textContent === "live"`, 90*time.Second)
	if code, body := get(t, srv.addrs.HTTP, host, "/env?name=API_TOKEN"); code != 200 || body != secretValue {
		t.Errorf("API_TOKEN in the container: %d %q", code, body)
	}
	br.run(t, "back to the app's page after the secret", 30*time.Second,
		chromedp.Click(chromedp.CSS("#app-link")),
		chromedp.WaitVisible(chromedp.CSS("#secret-form")))
	br.waitFor(t, "API_TOKEN listed, its value hidden", `document.querySelector('#secrets tr[data-secret="API_TOKEN"]') !== null && !document.body.innerHTML.includes(`+jsString(secretValue)+`)`, 10*time.Second)
	br.check(t, "config and secrets")

	// The audit log: the session's changes, who made them and what they
	// started, newest first; a filter on another actor shows none.
	br.run(t, "open the audit log", 30*time.Second,
		chromedp.Click(chromedp.CSS("#nav-audit")),
		chromedp.WaitVisible(chromedp.CSS("#audit")))
	auditRow := func(action string) string {
		return `[...document.querySelectorAll('#audit-rows tr[data-action="` + action + `"]')].some((tr) => tr.textContent.includes("admin-token") && tr.textContent.includes(` + jsString(name+"/production") + `) && tr.textContent.includes("ok") && tr.textContent.includes("deployment "))`
	}
	br.waitFor(t, "the rollback, redeploy and scale in the audit log", auditRow("rollback")+" && "+auditRow("redeploy")+" && "+auditRow("scale")+
		` && document.querySelector('#audit-rows tr[data-action="sign_in"]') !== null`, 30*time.Second)
	if first := br.text(t, "#audit-rows tr:first-child"); !strings.Contains(first, "secret_set") || !strings.Contains(first, "name=API_TOKEN") || strings.Contains(first, secretValue) {
		t.Errorf("the newest audit entry is %q, want the secret set, without its value", first)
	}
	br.waitFor(t, "maintenance and the config change in the audit log", auditRow("config_change")+` && [...document.querySelectorAll('#audit-rows tr[data-action="maintenance"]')].some((tr) => tr.textContent.includes("on=false")) && !document.body.innerHTML.includes(`+jsString(secretValue)+`)`, 10*time.Second)
	br.screenshot(t, "audit")
	br.run(t, "filter the audit log by another actor", 10*time.Second,
		chromedp.SetValue(chromedp.CSS("#f-actor"), "nobody"),
		chromedp.Click(chromedp.CSS("#audit-filter button")))
	br.waitFor(t, "no entry for that actor", `!document.getElementById("audit-empty").hidden && document.querySelectorAll("#audit-rows tr").length === 0 && location.search.includes("actor=nobody")`, 10*time.Second)
	br.check(t, "audit")

	// A session ended elsewhere (an admin revokes it): the open page's
	// live stream says so and the browser lands on the sign-in page,
	// which says why.
	br.run(t, "open the overview", 30*time.Second, chromedp.Navigate(base+"/"))
	br.waitFor(t, "the overview, connected", `document.getElementById("feed").textContent === "live"`, 30*time.Second)
	sessions, err := srv.client.Sessions(context.Background())
	if err != nil || len(sessions) != 1 || sessions[0].Token != "admin-token" {
		t.Fatalf("sessions: %+v (%v)", sessions, err)
	}
	if _, err := srv.client.RevokeSession(context.Background(), sessions[0].ID); err != nil {
		t.Fatal(err)
	}
	br.waitFor(t, "the sign-in page, saying the session ended", `location.pathname === "/login" && document.getElementById("notice") !== null && document.getElementById("notice").textContent.includes("session has ended")`, 10*time.Second)
	br.check(t, "session revoked")

	// Sign in again, then out: the overview is the sign-in page's again.
	br.signIn(t, tok)
	br.waitFor(t, "the overview", `location.pathname === "/" && document.getElementById("feed").textContent === "live"`, 30*time.Second)
	br.run(t, "sign out", 30*time.Second, chromedp.Click(chromedp.CSS("#sign-out")))
	br.waitFor(t, "the signed-out page", `location.pathname === "/login" && document.getElementById("notice") !== null && document.getElementById("notice").textContent.includes("signed out")`, 30*time.Second)
	br.run(t, "the overview after signing out", 30*time.Second, chromedp.Navigate(base+"/"))
	br.waitFor(t, "the sign-in page again", `location.pathname === "/login"`, 10*time.Second)
	br.check(t, "sign-out")

	// A user signs in with a password; a viewer sees the app but is
	// offered no rollback, and the API refuses one all the same.
	const pw = "a viewer's long passphrase"
	if _, err := srv.client.AddUser(context.Background(), dto.UserRequest{Name: "vera", Role: "viewer", Password: pw}); err != nil {
		t.Fatal(err)
	}
	br.waitFor(t, "the sign-in page", `location.pathname === "/login" && document.readyState === "complete"`, 10*time.Second)
	br.run(t, "sign in as vera", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#name"), "vera"),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#user-form button")))
	br.waitFor(t, "vera's overview with the app", `location.pathname === "/" && `+row+` !== null`, 30*time.Second)
	if who := br.text(t, "#who"); !strings.Contains(who, "user:vera") || !strings.Contains(who, "viewer") {
		t.Errorf("signed in as %q", who)
	}
	br.run(t, "vera opens the app's page", 30*time.Second, chromedp.Click(chromedp.CSS(`tr[data-app="`+name+`"] th a`)))
	br.waitFor(t, "the app's page, with no rollback offered and no audit log", `document.querySelectorAll("#releases tbody tr").length === 5 && document.getElementById("rollback").disabled && !document.getElementById("cannot").hidden && document.getElementById("nav-audit") === null`, 30*time.Second)
	br.check(t, "viewer")
	br.expect("/api/v1/apps/" + name + "/envs/production/rollback") // refused on purpose below
	var status int64
	ctx, cancel := context.WithTimeout(br.ctx, 10*time.Second)
	status, err = chromedp.Run(ctx, chromedp.Evaluate[int64](`fetch("/api/v1/apps/`+name+`/envs/production/rollback", {method: "POST", headers: {"X-Berth-CSRF": document.querySelector('meta[name="berth-csrf"]').content}}).then((r) => r.status)`, chromedp.EvalAwaitPromise))
	cancel()
	if err != nil || status != 403 {
		t.Errorf("a viewer's rollback through the API: %d (%v)", status, err)
	}
	br.run(t, "vera signs out", 30*time.Second, chromedp.Click(chromedp.CSS("#sign-out")))
	br.waitFor(t, "the signed-out page", `location.pathname === "/login"`, 30*time.Second)
	br.check(t, "viewer")

	ld.stop()
	if ld.failed.Load() != 0 || ld.total.Load() == 0 {
		t.Errorf("load through the proxy: %s", ld.summary())
	}
	t.Logf("load: %s; the browser sent %d requests, all to loopback", ld.summary(), br.requests)
}

// deployOrFail deploys app and fails the test when it does not go live.
func (s *server) deployOrFail(t *testing.T, app *spec.App) {
	t.Helper()
	if _, err := s.deploy(t, app); err != nil {
		t.Fatalf("deploy %s: %v", app.Name, err)
	}
}

// adminToken is the admin token berth server wrote into dataDir.
func adminToken(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, daemon.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
