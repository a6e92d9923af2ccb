package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// sseEvent is one server-sent event as a client reads it.
type sseEvent struct {
	event, id, data string
}

// readSSE sends the events of body to the returned channel, closed at
// the end of the stream.
func readSSE(body io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out
}

// next is the next event of evs within d.
func next(t *testing.T, evs <-chan sseEvent, d time.Duration) (sseEvent, bool) {
	t.Helper()
	select {
	case ev, ok := <-evs:
		return ev, ok
	case <-time.After(d):
		t.Fatalf("no event within %s", d)
		return sseEvent{}, false
	}
}

type liveEnv struct {
	srv  *httptest.Server
	api  *Server
	stop context.CancelFunc // the server's context: it stops
	st   *store.Store
	eng  *gatedEngine
}

func newLiveEnv(t *testing.T) *liveEnv {
	t.Helper()
	f := enginetest.NewFake()
	f.AddImage("shop:1", "sha256:1111")
	f.AddImage("blog:1", "sha256:2222")
	eng := &gatedEngine{Fake: f, open: make(chan struct{})}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dep := deploy.New(deploy.Options{Engine: eng, Store: st, Proxy: proxy.New(proxy.Options{}), BindRoot: "/etc"})
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	a := New(Options{Deployer: dep, Store: st, Token: testToken, Context: ctx, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &liveEnv{srv: srv, api: a, stop: stop, st: st, eng: eng}
}

func (e *liveEnv) get(t *testing.T, ctx context.Context, path string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// deploy starts a deploy of workerApp and returns its stream.
func (e *liveEnv) deploy(t *testing.T) *bufio.Reader {
	t.Helper()
	return e.deployApp(t, workerApp())
}

func (e *liveEnv) deployApp(t *testing.T, app *spec.App) *bufio.Reader {
	t.Helper()
	body, _ := json.Marshal(app)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/apps/"+app.Name+"/envs/production/deploy", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("deploy: %s", resp.Status)
	}
	return bufio.NewReader(resp.Body)
}

// A deploy's lines name its deployment once it is recorded; its
// progress stream gives every line from the first (said before the
// record) as it is said, then the result, and ends; after the end it
// gives the recorded lines and the result at once, from the line after
// Last-Event-ID when the client sends one.
func TestLive_DeploymentProgressFollowsToTheOutcome(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t)
	stream := e.deploy(t) // held at its first container by the gate
	var id int64
	for id == 0 {
		line, err := stream.ReadBytes('\n')
		if err != nil {
			t.Fatalf("the deploy's stream ended before it named its deployment: %v", err)
		}
		var ev dto.StreamEvent
		if json.Unmarshal(line, &ev) == nil && ev.Progress != nil {
			id = ev.Progress.Deployment
		}
	}
	path := "/api/v1/deployments/" + strconv.FormatInt(id, 10) + "/progress"
	resp := e.get(t, context.Background(), path)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("progress: %s %s", resp.Status, ct)
	}
	evs := readSSE(resp.Body)
	first, _ := next(t, evs, 10*time.Second)
	var p dto.Progress
	if first.event != "progress" || first.id != "0" || json.Unmarshal([]byte(first.data), &p) != nil || !strings.HasPrefix(p.Message, "deploying shop to production") {
		t.Fatalf("first event %+v", first)
	}
	close(e.eng.open) // the deploy goes on
	var lines []string
	var res dto.Result
	for {
		ev, ok := next(t, evs, 30*time.Second)
		if !ok {
			t.Fatal("the stream ended without a result")
		}
		if ev.event == "result" {
			if err := json.Unmarshal([]byte(ev.data), &res); err != nil {
				t.Fatal(err)
			}
			break
		}
		if ev.event != "progress" || ev.id != strconv.Itoa(len(lines)+1) {
			t.Fatalf("event %+v after %d lines", ev, len(lines)+1)
		}
		lines = append(lines, ev.data)
	}
	if !res.OK || res.Deployment == nil || res.Deployment.ID != id || res.Deployment.Status != dto.DeploymentSucceeded {
		t.Fatalf("result %+v", res)
	}
	if _, ok := next(t, evs, 10*time.Second); ok {
		t.Error("the stream goes on after the result")
	}
	d, err := e.st.GetDeployment(id)
	if err != nil || len(d.Timeline) != len(lines)+1 {
		t.Fatalf("streamed %d lines, recorded %d (%v)", len(lines)+1, len(d.Timeline), err)
	}

	// After the end: the record at once, from after Last-Event-ID.
	evs = readSSE(e.get(t, context.Background(), path, "Last-Event-ID", "1").Body)
	ev, _ := next(t, evs, 10*time.Second)
	if ev.event != "progress" || ev.id != "2" {
		t.Errorf("resumed at %+v, want line 2", ev)
	}
	for ev.event == "progress" {
		ev, _ = next(t, evs, 10*time.Second)
	}
	if ev.event != "result" || !strings.Contains(ev.data, `"ok":true`) {
		t.Errorf("after the lines: %+v", ev)
	}
	if resp := e.get(t, context.Background(), "/api/v1/deployments/99/progress"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown deployment's progress: %s", resp.Status)
	}

	// berth watch's client: every line, then the deployment.
	var got []string
	dep, err := apiclient.New(e.srv.URL, testToken).FollowDeployment(context.Background(), id, func(p dto.Progress) { got = append(got, p.Message) })
	if err != nil || dep == nil || dep.ID != id || len(got) != len(d.Timeline) || got[0] != d.Timeline[0].Message {
		t.Errorf("the client followed %d lines of %d, deployment %+v (%v)", len(got), len(d.Timeline), dep, err)
	}
	if _, err := apiclient.New(e.srv.URL, testToken).FollowDeployment(context.Background(), 99, nil); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("following an unknown deployment: %v", err)
	}
}

// A stream outlives the moment it was admitted, not its credential: a
// token revoked while its status stream is open ends the stream at the
// next look, with an "ended" event saying why.
func TestLive_StreamsEndWithTheirCredential(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t)
	tok := mint(t, e.st, store.Token{Name: "watcher", Role: "viewer", CreatedAt: time.Now()})
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/status/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	evs := readSSE(resp.Body)
	if ev, _ := next(t, evs, 10*time.Second); ev.event != "status" {
		t.Fatalf("first event %+v", ev)
	}
	if _, err := e.st.RevokeToken("watcher", time.Now()); err != nil { // a write: the stream looks again
		t.Fatal(err)
	}
	ev, _ := next(t, evs, 10*time.Second)
	if ev.event != "ended" || !strings.Contains(ev.data, "revoked") {
		t.Fatalf("after the revocation: %+v", ev)
	}
	if _, ok := next(t, evs, 10*time.Second); ok {
		t.Error("the stream goes on after it ended")
	}
}

// Open streams end when the server stops, so that they never hold up
// its shutdown (which waits for requests in flight).
func TestLive_StreamsEndWhenTheServerStops(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t)
	status := readSSE(e.get(t, context.Background(), "/api/v1/status/events").Body)
	if ev, _ := next(t, status, 10*time.Second); ev.event != "status" {
		t.Fatalf("first event %+v", ev)
	}
	stream := e.deploy(t) // held by the gate: its progress stream follows it
	var id int64
	for id == 0 {
		line, err := stream.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		var ev dto.StreamEvent
		if json.Unmarshal(line, &ev) == nil && ev.Progress != nil {
			id = ev.Progress.Deployment
		}
	}
	progress := readSSE(e.get(t, context.Background(), "/api/v1/deployments/"+strconv.FormatInt(id, 10)+"/progress").Body)
	if ev, _ := next(t, progress, 10*time.Second); ev.event != "progress" {
		t.Fatalf("first progress event %+v", ev)
	}
	e.stop()
	for name, evs := range map[string]<-chan sseEvent{"status": status, "progress": progress} {
		for {
			if _, ok := next(t, evs, 10*time.Second); !ok {
				break
			}
		}
		t.Logf("the %s stream ended with the server", name)
	}
	close(e.eng.open)
}

// A deployment recorded as running that no deployer here runs (a
// server stopped while it ran, before the next start marks it
// interrupted) is not waited for forever: its stream says so and ends.
func TestLive_ProgressOfAnAbandonedDeploymentEnds(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t)
	d, err := e.st.CreateDeployment(store.Deployment{App: "shop", Env: "production", Kind: store.KindDeploy})
	if err != nil {
		t.Fatal(err)
	}
	evs := readSSE(e.get(t, context.Background(), "/api/v1/deployments/"+strconv.FormatInt(d.ID, 10)+"/progress").Body)
	ev, _ := next(t, evs, abandonedAfter+10*time.Second)
	if ev.event != "result" || !strings.Contains(ev.data, "this server is not running it") || strings.Contains(ev.data, `"ok":true`) {
		t.Fatalf("event %+v", ev)
	}
	if _, ok := next(t, evs, 10*time.Second); ok {
		t.Error("the stream goes on")
	}
}
