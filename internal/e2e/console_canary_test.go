package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/berth-dev/berth/internal/spec"
)

// The deploy button and the canary controls in a real browser against a
// real berth server on the real engine. "Deploy an app" on the overview
// uploads a Compose file for a new app: the confirmation says what it
// will run, the deployment's page follows it until it is live. Then,
// under constant load through the proxy: the app's page uploads the
// next version as a canary at 20%; its page shows the split, moves it
// to 50% (the proxy's split follows), promotes it (the deployment's page
// reaches live and every client gets it), and aborts a second canary.
// Every step is confirmed first, saying what changes; no request
// through the proxy fails, and no page logs an error or fails a request.
func TestConsole_DeployButtonAndCanaryInABrowser(t *testing.T) {
	eng := requireDocker(t)
	br := newBrowser(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir)
	tok := adminToken(t, dataDir)
	base := "http://" + srv.addrs.API
	name, host := newApp(t, eng)
	br.run(t, "open the console", 30*time.Second,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token-form")))
	br.signIn(t, tok)
	br.waitFor(t, "the overview", `location.pathname === "/" && document.getElementById("feed").textContent === "live"`, 30*time.Second)

	// Deploy an app: its first release, from the overview's button.
	br.run(t, "open the deploy page", 30*time.Second,
		chromedp.Click(chromedp.CSS("#deploy-new")),
		chromedp.WaitVisible(chromedp.CSS("#deploy-form")))
	br.run(t, "choose the Compose file", 10*time.Second,
		chromedp.SetUploadFiles(chromedp.CSS("#deploy-file"), []string{appFile(t, name, host, appOpts{Version: "v1"})}))
	br.waitFor(t, "the app's name from the file's name:", `document.getElementById("deploy-app").value === `+jsString(name), 10*time.Second)
	br.screenshot(t, "deploy")
	br.run(t, "check and deploy", 90*time.Second, // the server reads the file first
		chromedp.Click(chromedp.CSS("#deploy-submit")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "has no live release: this is its first") || !strings.Contains(what, "web: "+image(t).Ref+", 2 replica(s), for "+host) {
		t.Errorf("the first deploy's confirmation says %q", what)
	}
	br.screenshot(t, "deploy-confirmation")
	br.run(t, "confirm the deploy", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the deployment's page to reach live", `location.pathname.startsWith("/deployments/") && document.getElementById("state").textContent === "live"`, 120*time.Second)
	if out := br.text(t, "#outcome"); !strings.Contains(out, "release 1 of "+name+"/production is live") {
		t.Errorf("the first deploy's outcome says %q", out)
	}
	if code, body := get(t, srv.addrs.HTTP, host, "/"); code != 200 || !strings.Contains(body, "v1") {
		t.Fatalf("after the first deploy the app answers %d %q", code, body)
	}
	br.check(t, "deploy an app")

	ld := startLoad(srv.addrs.HTTP, host, 4)
	defer func() { ld.stop() }()

	// A canary at 20%, uploaded from the app's page.
	br.run(t, "open the app's page", 30*time.Second,
		chromedp.Click(chromedp.CSS("#app-link")),
		chromedp.WaitVisible(chromedp.CSS("#deploy-link")))
	br.run(t, "open its deploy page", 30*time.Second,
		chromedp.Click(chromedp.CSS("#deploy-link")),
		chromedp.WaitVisible(chromedp.CSS("#deploy-form")))
	br.waitFor(t, "the form for the app", `document.getElementById("deploy-app").value === `+jsString(name)+` && document.getElementById("deploy-env").value === "production"`, 10*time.Second)
	br.run(t, "a canary at 20%", 90*time.Second, // the server reads the file first
		chromedp.SetUploadFiles(chromedp.CSS("#deploy-file"), []string{appFile(t, name, host, appOpts{Version: "v2"})}),
		chromedp.Click(chromedp.CSS("#deploy-canary")),
		chromedp.SetValue(chromedp.CSS("#deploy-percent"), "20"),
		chromedp.Click(chromedp.CSS("#deploy-submit")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "starts beside release 1 and takes 20% of clients") || !strings.Contains(what, "environment of web: VERSION") {
		t.Errorf("the canary's confirmation says %q", what)
	}
	br.run(t, "start the canary", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the canary's deployment to end", `location.pathname.startsWith("/deployments/") && document.getElementById("state").textContent === "canary"`, 120*time.Second)
	if out := br.text(t, "#outcome"); !strings.Contains(out, "release 2 of "+name+"/production is a canary") {
		t.Errorf("the canary's outcome says %q", out)
	}
	shares := func() string {
		st, err := srv.client.Status(context.Background(), name, spec.DefaultEnv)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(st.Shares)
	}
	if got := shares(); got != "[{1 live 80} {2 canary 20}]" {
		t.Errorf("shares after the canary started: %s", got)
	}

	// The app's page shows it; move it to 50%.
	br.run(t, "back to the app's page", 30*time.Second,
		chromedp.Click(chromedp.CSS("#app-link")),
		chromedp.WaitVisible(chromedp.CSS("#releases")))
	br.waitFor(t, "the canary at 20%, rollback and redeploy held", `!document.getElementById("canary-section").hidden && document.getElementById("canary-now").textContent === "20%" && !document.getElementById("canary-move").disabled && document.getElementById("rollback").disabled && document.getElementById("redeploy").disabled`, 30*time.Second)
	br.screenshot(t, "app-canary")
	br.run(t, "move the canary to 50%", 10*time.Second,
		chromedp.SetValue(chromedp.CSS("#canary-weight"), "50"),
		chromedp.Click(chromedp.CSS("#canary-move")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "goes from 20% to 50% of clients") || !strings.Contains(what, "No container starts or stops") {
		t.Errorf("the move's confirmation says %q", what)
	}
	br.run(t, "confirm the move", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the canary at 50%", `document.getElementById("canary-now").textContent === "50%"`, 30*time.Second)
	if got := shares(); got != "[{1 live 50} {2 canary 50}]" {
		t.Errorf("shares after the move: %s", got)
	}
	bodies, _ := splitRound(t, srv.addrs.HTTP, host, make([]string, 400))
	if s := share(bodies, "v2"); s < 38 || s > 62 {
		t.Errorf("at 50%% the canary answered %.1f%% of 400 new clients", s)
	}
	br.check(t, "the canary moved")

	// Promote it: every client on release 2.
	br.run(t, "ask to promote", 10*time.Second,
		chromedp.Click(chromedp.CSS("#canary-promote")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "Release 2 gets every client instead of 50%") || !strings.Contains(what, "environment of web: VERSION") {
		t.Errorf("the promotion's confirmation says %q", what)
	}
	br.run(t, "confirm the promotion", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the promotion to reach live", `location.pathname.startsWith("/deployments/") && document.getElementById("state").textContent === "live"`, 120*time.Second)
	if out := br.text(t, "#outcome"); !strings.Contains(out, "release 2 of "+name+"/production is live") {
		t.Errorf("the promotion's outcome says %q", out)
	}
	bodies, _ = splitRound(t, srv.addrs.HTTP, host, make([]string, 100))
	if s := share(bodies, "v2"); s != 100 {
		t.Errorf("after the promotion %.0f%% of new clients got v2", s)
	}
	br.check(t, "promote")

	// A second canary (from the CLI's API), aborted from the page.
	if _, err := srv.deployCanary(t, loadApp(t, name, host, appOpts{Version: "v3"}), 10); err != nil {
		t.Fatalf("deploy v3 as a canary: %v", err)
	}
	br.run(t, "the app's page with the second canary", 30*time.Second,
		chromedp.Click(chromedp.CSS("#app-link")),
		chromedp.WaitVisible(chromedp.CSS("#releases")))
	br.waitFor(t, "the canary at 10%", `!document.getElementById("canary-section").hidden && document.getElementById("canary-now").textContent === "10%" && !document.getElementById("canary-abort").disabled`, 30*time.Second)
	br.run(t, "ask to abort", 10*time.Second,
		chromedp.Click(chromedp.CSS("#canary-abort")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "Canary release 3 is removed: its 10% of clients go back to release 2") {
		t.Errorf("the abort's confirmation says %q", what)
	}
	br.run(t, "confirm the abort", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the abort to end", `location.pathname.startsWith("/deployments/") && document.getElementById("state").textContent === "live"`, 120*time.Second)
	rels, err := srv.client.Releases(context.Background(), name, spec.DefaultEnv)
	if err != nil || rels[0].ID != 3 || rels[0].Status != "rolled_back" || rels[1].Status != "live" {
		t.Errorf("releases after the abort: %+v (%v)", rels, err)
	}
	if got := shares(); got != "[{2 live 100}]" {
		t.Errorf("shares after the abort: %s", got)
	}
	br.run(t, "the app's page after the abort", 30*time.Second,
		chromedp.Click(chromedp.CSS("#app-link")),
		chromedp.WaitVisible(chromedp.CSS("#releases")))
	br.waitFor(t, "no canary, rollback offered again", `document.getElementById("canary-section").hidden && !document.getElementById("rollback").disabled`, 30*time.Second)
	br.check(t, "abort")

	ld.stop()
	if ld.failed.Load() != 0 || ld.total.Load() == 0 {
		t.Errorf("load through the proxy: %s", ld.summary())
	}
	t.Logf("load: %s; the browser sent %d requests, all to loopback", ld.summary(), br.requests)
}
