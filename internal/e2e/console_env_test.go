package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Environment clone and prune from the console, in a real browser: the
// app's page clones production into staging (the confirmation says what
// is copied and where it is routed), the deployment's page follows it
// until it is live and staging.<host> serves the same release through
// the proxy; the overview lists both, and an admin prunes from it,
// after a confirmation, with the report on the page.
func TestConsole_CloneAnEnvironmentAndPrune(t *testing.T) {
	eng := requireDocker(t)
	br := newBrowser(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir)
	tok := adminToken(t, dataDir)
	base := "http://" + srv.addrs.API
	name, host := newApp(t, eng)
	srv.deployOrFail(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1}))
	ld := startLoad(srv.addrs.HTTP, host, 2)
	defer func() { ld.stop() }()

	br.run(t, "open the app's page", 30*time.Second,
		chromedp.Navigate(base+"/apps/"+name+"/envs/production"),
		chromedp.WaitVisible(chromedp.CSS("#token-form")))
	br.signIn(t, tok)
	br.waitFor(t, "the clone form", `location.pathname.startsWith("/apps/") && !document.getElementById("clone-section").hidden && document.getElementById("clone-host-web") !== null`, 30*time.Second)
	br.run(t, "clone into staging", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#clone-to"), "staging"))
	br.waitFor(t, "the default host shown", `document.getElementById("clone-host-web").placeholder === `+jsString("staging."+host), 10*time.Second)
	br.run(t, "ask to clone", 10*time.Second,
		chromedp.Click(chromedp.CSS("#clone-submit")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "A new environment "+name+"/staging runs release 1's definition and images") ||
		!strings.Contains(what, "web at staging."+host) || !strings.Contains(what, "secrets are not copied") {
		t.Errorf("the clone's confirmation says %q", what)
	}
	br.run(t, "confirm the clone", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the clone's deployment live", `location.pathname.startsWith("/deployments/") && document.getElementById("state").textContent === "live"`, 120*time.Second)
	if out := br.text(t, "#outcome"); !strings.Contains(out, name+"/staging is live") {
		t.Errorf("the clone's outcome says %q", out)
	}
	if code, body := get(t, srv.addrs.HTTP, "staging."+host, "/"); code != 200 || !strings.Contains(body, "v1") {
		t.Errorf("staging.%s answers %d %q", host, code, body)
	}
	br.check(t, "clone")

	// The overview lists both; prune from it.
	br.run(t, "open the overview", 30*time.Second, chromedp.Navigate(base+"/"))
	br.waitFor(t, "both environments listed", `document.querySelector('tr[data-app=`+jsString(name)+`][data-env="staging"]') !== null && document.querySelector('tr[data-app=`+jsString(name)+`][data-env="production"]') !== null && !document.getElementById("prune-form").hidden`, 30*time.Second)
	br.run(t, "ask to prune", 10*time.Second,
		chromedp.Click(chromedp.CSS("#prune")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "no rollback can target") || !strings.Contains(what, "Nothing that runs changes") {
		t.Errorf("the prune's confirmation says %q", what)
	}
	br.run(t, "confirm the prune", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the prune's report", `!document.getElementById("prune-result").hidden && document.getElementById("prune-result").textContent.startsWith("Removed ")`, 60*time.Second)
	br.check(t, "prune")
	if code, body := get(t, srv.addrs.HTTP, host, "/"); code != 200 || !strings.Contains(body, "v1") {
		t.Errorf("after the prune production answers %d %q", code, body)
	}
	ld.stop()
	if ld.failed.Load() != 0 || ld.total.Load() == 0 {
		t.Errorf("load through the proxy: %s", ld.summary())
	}
}
