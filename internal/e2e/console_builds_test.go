package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
)

// The deploy button of an app connected to a git repository, and the
// builds it starts, in a real browser: the app's page offers "Deploy
// the head of main"; confirmed, it opens the build's page, which shows
// its steps and live log and links to the deployment it started, which
// is live. A second build (whose test never ends) is cancelled from its
// page; the builds page lists both. berth builds deploy does the same
// from the CLI; a branch the repository lacks is refused, saying so.
func TestConsole_DeployTheHeadOfABranchAndItsBuilds(t *testing.T) {
	eng := requireDocker(t)
	br := newBrowser(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir)
	tok := adminToken(t, dataDir)
	base := "http://" + srv.addrs.API
	name, host := newApp(t, eng)
	repo := newGitRepo(t)
	commit := func(version, testCmd string) string {
		return repo.commit(map[string]string{
			"Dockerfile": "FROM " + image(t).ID + "\nENV VERSION=" + version + "\n",
			"compose.yaml": `services:
  web:
    build: .
    x-berth: { port: 8080, hosts: [` + host + `], healthcheck: { path: /up }, test: ` + testCmd + ` }
`,
		}, version)
	}
	c1 := commit("v1", `["print", "tests pass"]`)
	ctx := context.Background()
	if _, err := srv.client.Connect(ctx, name, dto.ConnectRequest{Repo: repo.URL, Branches: map[string]string{"main": "production"}}); err != nil {
		t.Fatal(err)
	}

	br.run(t, "open the console", 30*time.Second,
		chromedp.Navigate(base+"/apps/"+name+"/envs/production"),
		chromedp.WaitVisible(chromedp.CSS("#token-form")))
	br.signIn(t, tok)
	br.waitFor(t, "the deploy button of main", `location.pathname.startsWith("/apps/") && document.querySelector('button.deploy-branch[data-branch="main"]') !== null`, 30*time.Second)
	br.run(t, "ask to deploy the head of main", 10*time.Second,
		chromedp.Click(chromedp.CSS(`button.deploy-branch[data-branch="main"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if what := br.text(t, "#confirm"); !strings.Contains(what, "the head of main from "+repo.URL) || !strings.Contains(what, "to "+name+"/production") {
		t.Errorf("the branch deploy's confirmation says %q", what)
	}
	br.run(t, "confirm", 10*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the build's page, succeeded", `location.pathname.startsWith("/builds/") && document.getElementById("build-state").textContent === "succeeded" && !document.getElementById("build-deployment").hidden`, 180*time.Second)
	br.waitFor(t, "the live log to the end", `document.getElementById("build-log").textContent.includes("deploy to production") && document.getElementById("build-log").textContent.includes("tests pass")`, 30*time.Second)
	if steps := br.text(t, "#build-steps"); !strings.Contains(steps, "fetch "+c1[:12]) || !strings.Contains(steps, "deploy to production") {
		t.Errorf("the build's steps: %q", steps)
	}
	if about := br.text(t, "#build-about"); !strings.Contains(about, "started by admin-token") {
		t.Errorf("the build's page says %q", about)
	}
	br.screenshot(t, "build")
	br.run(t, "open the build's deployment", 30*time.Second, chromedp.Click(chromedp.CSS("#build-deployment")))
	br.waitFor(t, "the deployment live", `location.pathname.startsWith("/deployments/") && document.getElementById("state").textContent === "live"`, 30*time.Second)
	if code, body := get(t, srv.addrs.HTTP, host, "/"); code != 200 || body != "v1" {
		t.Fatalf("after the branch deploy the app answers %d %q", code, body)
	}
	br.check(t, "deploy the head of main")

	// A build whose test never ends, cancelled from its page.
	commit("v2", `["sleep", "600"]`)
	br.run(t, "back to the app's page", 30*time.Second,
		chromedp.Click(chromedp.CSS("#app-link")),
		chromedp.WaitVisible(chromedp.CSS(`button.deploy-branch[data-branch="main"]`)))
	br.run(t, "deploy the head again", 10*time.Second,
		chromedp.Click(chromedp.CSS(`button.deploy-branch[data-branch="main"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the second build testing", `location.pathname.startsWith("/builds/") && document.getElementById("build-log").textContent.includes("test: sleep 600") && !document.getElementById("build-cancel").hidden`, 180*time.Second)
	br.run(t, "cancel it", 10*time.Second,
		chromedp.Click(chromedp.CSS("#build-cancel")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-ok")))
	br.waitFor(t, "the build cancelled", `document.getElementById("build-state").textContent === "cancelled" && document.getElementById("build-cancel").hidden && document.getElementById("build-deployment").hidden`, 60*time.Second)
	if code, body := get(t, srv.addrs.HTTP, host, "/"); code != 200 || body != "v1" {
		t.Errorf("after the cancelled build the app answers %d %q", code, body)
	}

	// The builds page: both, newest first, the first with its deployment.
	br.run(t, "open the builds page", 30*time.Second,
		chromedp.Click(chromedp.CSS("#builds-link")),
		chromedp.WaitVisible(chromedp.CSS("#builds")))
	br.waitFor(t, "two builds listed", `document.querySelectorAll("#build-rows tr").length === 2 && document.querySelector("#build-rows tr:first-child").dataset.status === "cancelled" && document.querySelector("#build-rows tr:last-child").dataset.status === "succeeded" && document.querySelector("#build-rows tr:last-child").textContent.includes("deployment ")`, 30*time.Second)
	br.screenshot(t, "builds")
	br.check(t, "builds")

	// The CLI's deploy button; a branch the repository lacks.
	c3 := commit("v3", `["print", "ok"]`)
	if code, out, errOut := srv.berth(t, "builds", "deploy", name, "-f"); code != 0 || !strings.Contains(out, "the head of main ("+c3[:12]+")") || !strings.Contains(out, "deploy to production") {
		t.Fatalf("berth builds deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, body := get(t, srv.addrs.HTTP, host, "/"); code != 200 || body != "v3" {
		t.Errorf("after berth builds deploy the app answers %d %q", code, body)
	}
	_, err := srv.client.DeployBranch(ctx, name, spec.DefaultEnv, "nope")
	if !apiclient.IsStatus(err, http.StatusNotFound) || !strings.Contains(err.Error(), "has no branch nope") {
		t.Errorf("a branch the repository lacks: %v", err)
	}
}
