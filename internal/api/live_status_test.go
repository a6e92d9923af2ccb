package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// The status stream sends the list when it connects and again soon
// after a change (a deploy going live), not only at its periodic look.
func TestLive_StatusStreamPushesChanges(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t)
	close(e.eng.open)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := e.get(t, ctx, "/api/v1/status/events")
	evs := readSSE(resp.Body)
	ev, _ := next(t, evs, 10*time.Second)
	if ev.event != "status" || ev.data != "[]" {
		t.Fatalf("first event %+v, want the empty list", ev)
	}
	stream := e.deploy(t)
	if _, err := io.Copy(io.Discard, stream); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	for {
		ev, ok := next(t, evs, 10*time.Second)
		if !ok {
			t.Fatal("the stream ended")
		}
		var list []dto.EnvStatus
		if err := json.Unmarshal([]byte(ev.data), &list); err != nil {
			t.Fatalf("event %+v: %v", ev, err)
		}
		if len(list) == 1 && list[0].Live != nil && list[0].Last != nil && list[0].Last.Status == dto.DeploymentSucceeded && !list[0].Deploying {
			took := time.Since(ended)
			t.Logf("status pushed %s after the deploy ended", took.Round(time.Millisecond))
			if took > time.Second {
				t.Errorf("the change came %s after the deploy ended, want within a second", took)
			}
			return
		}
	}
}

// Redeploy makes a new release of the live one with its images, through
// a deploy's stream; with nothing live it is refused saying so.
func TestLive_RedeployMakesANewReleaseOfTheLiveOne(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t)
	close(e.eng.open)
	post := func() (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/apps/shop/envs/production/redeploy", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if err := e.st.EnsureEnv("shop", "production"); err != nil {
		t.Fatal(err)
	}
	if resp, body := post(); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "no live release to redeploy") {
		t.Fatalf("redeploy with nothing live: %s %s", resp.Status, body)
	}
	if _, err := io.Copy(io.Discard, e.deploy(t)); err != nil {
		t.Fatal(err)
	}
	resp, body := post()
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "redeploying shop/production: new release from release 1") || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("redeploy: %s %s", resp.Status, body)
	}
	live, err := e.st.LiveRelease("shop", "production")
	if err != nil || live.ID != 2 || live.Services["worker"].ImageID != "sha256:1111" {
		t.Errorf("live after the redeploy: %+v (%v)", live, err)
	}
	// berth redeploy's client: the same route, its progress and outcome.
	var lines []string
	d, err := apiclient.New(e.srv.URL, testToken).Redeploy(context.Background(), "shop", "production", func(p dto.Progress) { lines = append(lines, p.Message) })
	if err != nil || d == nil || d.ReleaseID != 3 || len(lines) == 0 || !strings.HasPrefix(lines[0], "redeploying shop/production: new release from release 2") {
		t.Errorf("the client's redeploy: %+v %q (%v)", d, lines, err)
	}
}

// The status streams share one look at the state, and each shows only
// its own credential's scope of it; the looks stop once no stream is
// open.
func TestLive_StatusStreamsShareLooksAndKeepTheirScope(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t)
	close(e.eng.open)
	blog := workerApp()
	blog.Name, blog.Services[0].Image = "blog", "blog:1"
	for _, app := range []*spec.App{workerApp(), blog} {
		if _, err := io.Copy(io.Discard, e.deployApp(t, app)); err != nil {
			t.Fatal(err)
		}
	}
	open := func(tok string) (<-chan sseEvent, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/api/v1/status/events", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return readSSE(resp.Body), cancel
	}
	apps := func(evs <-chan sseEvent) string {
		ev, _ := next(t, evs, 10*time.Second)
		var list []dto.EnvStatus
		if ev.event != "status" || json.Unmarshal([]byte(ev.data), &list) != nil {
			t.Fatalf("event %+v", ev)
		}
		var names []string
		for _, st := range list {
			names = append(names, st.App)
		}
		return strings.Join(names, ",")
	}
	shop, stopShop := open(mint(t, e.st, store.Token{Name: "view-shop", Role: "viewer", Apps: []string{"shop"}, CreatedAt: time.Now()}))
	blogs, stopBlog := open(mint(t, e.st, store.Token{Name: "view-blog", Role: "viewer", Apps: []string{"blog"}, CreatedAt: time.Now()}))
	every, stopAll := open(testToken)
	if got := apps(shop); got != "shop" {
		t.Errorf("the shop viewer's stream lists %q", got)
	}
	if got := apps(blogs); got != "blog" {
		t.Errorf("the blog viewer's stream lists %q", got)
	}
	if got := apps(every); got != "blog,shop" && got != "shop,blog" {
		t.Errorf("the admin's stream lists %q", got)
	}
	e.api.hub.mu.Lock()
	subs := e.api.hub.subs
	e.api.hub.mu.Unlock()
	if subs != 3 {
		t.Errorf("%d streams counted by the hub, want 3", subs)
	}
	stopShop()
	stopBlog()
	stopAll()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.api.hub.mu.Lock()
		running := e.api.hub.running
		e.api.hub.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hub still looks with no stream open")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
