package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// A client that reads nothing until the deployment has ended (the
// slowest there is) still gets every progress line, in order, and the
// result; the deployment never waits for it. The lines are far more
// than the sockets between them hold.
func TestServer_StreamToASlowClientLosesNothing(t *testing.T) {
	t.Parallel()
	const lines = 6000
	pad := strings.Repeat("x", 1500)
	ran := make(chan struct{})
	s := &Server{ctx: context.Background(), log: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := s.stream(w, r, func(ctx context.Context, p deploy.ProgressFunc) (store.Deployment, error) {
			defer close(ran)
			for i := range lines {
				p(deploy.Progress{Message: fmt.Sprintf("line %d %s", i, pad)})
			}
			return store.Deployment{ID: 7, App: "shop", Env: "production", Kind: store.KindDeploy, Status: store.DeploymentSucceeded}, nil
		})
		if err != nil {
			writeError(w, r, s.log, err)
		}
	}))
	defer srv.Close()

	resp, err := srv.Client().Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	select {
	case <-ran:
	case <-time.After(30 * time.Second):
		t.Fatal("the deployment waited for a client that does not read")
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var got int
	var res *dto.Result
	for sc.Scan() {
		var ev dto.StreamEvent
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v", got, err)
		}
		if res != nil {
			t.Fatalf("%+v after the result", ev)
		}
		switch {
		case ev.Progress != nil:
			if want := fmt.Sprintf("line %d ", got); !strings.HasPrefix(ev.Progress.Message, want) {
				t.Fatalf("progress %d is %.20q", got, ev.Progress.Message)
			}
			got++
		case ev.Result != nil:
			res = ev.Result
		}
	}
	if got != lines {
		t.Errorf("%d progress lines of %d", got, lines)
	}
	if res == nil || !res.OK || res.Deployment == nil || res.Deployment.ID != 7 || res.Deployment.Kind != dto.KindDeploy {
		t.Errorf("result %+v, want deployment 7 succeeded", res)
	}
}

// workerApp is an app of one worker (no routes, so no health checks to
// wait for).
func workerApp() *spec.App {
	return &spec.App{Name: "shop", Services: []spec.Service{{Name: "worker", Image: "shop:1", Replicas: 1,
		Command: []string{"/app", "worker"}, StopGracePeriod: spec.Duration(time.Second),
		Healthcheck: spec.Healthcheck{Path: "/", Interval: spec.Duration(time.Second), Timeout: spec.Duration(time.Second),
			HealthyThreshold: 1, UnhealthyThreshold: 1, Deadline: spec.Duration(time.Minute)}}}}
}

// gatedEngine holds every container's creation until open is closed.
type gatedEngine struct {
	*enginetest.Fake
	open chan struct{}
}

func (g *gatedEngine) CreateContainer(ctx context.Context, s engine.ContainerSpec) (engine.Container, error) {
	<-g.open
	return g.Fake.CreateContainer(ctx, s)
}

// A client that goes away in the middle of a deploy neither stops nor
// holds it: its request ends while the deploy waits on the engine, and
// the deploy then completes, is recorded and goes live; its audit entry
// is written then, with its outcome and deployment.
func TestServer_DeployOutlivesItsClient(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	eng := &gatedEngine{Fake: f, open: make(chan struct{})}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dep := deploy.New(deploy.Options{Engine: eng, Store: st, Proxy: proxy.New(proxy.Options{}), BindRoot: "/etc"})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	h := New(Options{Deployer: dep, Store: st, Token: testToken, Context: ctx, Logger: slog.New(slog.DiscardHandler)}).Handler()
	returned := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.URL.Path == "/api/v1/apps/shop/envs/production/deploy" {
			close(returned)
		}
	}))
	defer srv.Close()

	body, _ := json.Marshal(workerApp())
	rctx, leave := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(rctx, http.MethodPost, srv.URL+"/api/v1/apps/shop/envs/production/deploy", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb dto.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		t.Fatalf("deploy: %s: %s", resp.Status, eb.Error)
	}
	line, err := bufio.NewReader(resp.Body).ReadBytes('\n')
	var ev dto.StreamEvent
	if err != nil || json.Unmarshal(line, &ev) != nil || ev.Progress == nil {
		t.Fatalf("first line %q (%v), want progress", line, err)
	}
	leave() // the client goes away while the deploy waits on the engine
	resp.Body.Close()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the request is still served after its client left")
	}
	if es, err := st.ListAudit(store.AuditFilter{}); err != nil || len(es) != 0 {
		t.Errorf("audited before the deploy ended: %+v (%v)", es, err)
	}
	close(eng.open)

	deadline := time.Now().Add(20 * time.Second)
	for {
		deps, err := st.ListDeployments("shop", "production", 1)
		es, aerr := st.ListAudit(store.AuditFilter{})
		audited := aerr == nil && len(es) == 1
		if err == nil && len(deps) == 1 && deps[0].Status == store.DeploymentSucceeded && audited {
			// The entry is written when the deploy ends, not when its
			// client left, and names the deployment.
			if e := es[0]; e.Action != "deploy" || e.Outcome != store.AuditOK || e.Deployment != deps[0].ID || e.Actor != "admin-token" {
				t.Errorf("audit entry %+v, want deploy ok of deployment %d", e, deps[0].ID)
			}
			if live, err := st.LiveRelease("shop", "production"); err != nil || live.ID != deps[0].ReleaseID {
				t.Errorf("live release %+v (%v), want release %d", live, err, deps[0].ReleaseID)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deploy did not complete without its client: %+v (%v)", deps, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
