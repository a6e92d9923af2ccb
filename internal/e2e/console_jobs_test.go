package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsole_JobsOnAnAppsPage: the app's page lists the live release's
// scheduled jobs with their next and last runs, and Run now starts one
// (after a confirmation that says what it runs) whose outcome the row
// shows, as berth jobs and berth jobs run do.
func TestConsole_JobsOnAnAppsPage(t *testing.T) {
	eng := requireDocker(t)
	br := newBrowser(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir)
	tok := adminToken(t, dataDir)
	base := "http://" + srv.addrs.API
	name, host := newApp(t, eng)
	if code, out, errOut := srv.berth(t, "deploy", "-f", jobsCompose(t, name, host, "v1")); code != 0 {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errOut)
	}

	br.run(t, "open the console", 30*time.Second,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token-form")))
	br.signIn(t, tok)
	br.waitFor(t, "the overview", `location.pathname === "/" && document.getElementById("feed").textContent === "live"`, 30*time.Second)
	br.run(t, "open the app's page", 30*time.Second,
		chromedp.Navigate(base+"/apps/"+name+"/envs/production"),
		chromedp.WaitVisible(chromedp.CSS("#releases")))
	row := func(job string) string { return `document.querySelector('#jobs tr[data-job="` + job + `"]')` }
	br.waitFor(t, "hello's scheduled run shown as succeeded", `!document.getElementById("jobs-section").hidden && `+row("hello")+` && `+row("hello")+`.textContent.includes("schedule") && `+row("hello")+`.textContent.includes("succeeded")`, 30*time.Second)
	if r := br.text(t, `#jobs tr[data-job="fail"]`); !strings.Contains(r, "@yearly") || !strings.Contains(r, "never") {
		t.Errorf("the fail job's row before any run: %q", r)
	}
	br.check(t, "the jobs listed")

	br.run(t, "ask to run fail now", 10*time.Second,
		chromedp.Click(chromedp.CSS(`#jobs tr[data-job="fail"] button.run-job`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "release 1") || !strings.Contains(what, "exit 1") {
		t.Errorf("the run's confirmation says %q", what)
	}
	br.run(t, "confirm the run", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "fail's run by hand shown as failed with its exit code", row("fail")+`.textContent.includes("manual") && `+row("fail")+`.textContent.includes("failed (exit 1)")`, 30*time.Second)
	br.screenshot(t, "jobs")
	br.check(t, "a run by hand")
}
