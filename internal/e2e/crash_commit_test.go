package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// A kill -9 exactly at a deploy's commit point, every time: berth runs
// with the after-live-commit failpoint and kills itself right after the
// store made v2 live, before its routes switched and v2's containers got
// their restart policy (they still have "no": the instant issue 17 item
// 3 found by chance). Started again without the failpoint, berth ends
// consistent: v2 is the one live release, no deployment is left running,
// v2's containers have the Compose file's restart policy, v1's are gone,
// the proxy serves v2, and the interrupted deploy's client never said
// the deployment goes on.
func TestServer_KilledAtTheCommitPointEndsConsistent(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	s := newTrialServer(t, berthBinary(t))
	name, host := newApp(t, eng)
	app := func(v string) *spec.App {
		return loadApp(t, name, host, appOpts{Version: v, Replicas: 2, Restart: "always", Deadline: "30s", Drain: "2s"})
	}
	ctx := context.Background()
	if _, err := s.c.Deploy(ctx, app("v1"), spec.DefaultEnv, dto.DeployOptions{}, nil); err != nil {
		t.Fatalf("deploy v1: %v", err)
	}
	s.stop()
	s.env = []string{daemon.EnvFailpoint + "=" + daemon.FailpointAfterLiveCommit}
	s.start()

	var mu sync.Mutex
	var lines []string
	done := make(chan error, 1)
	go func() {
		_, err := s.c.Deploy(ctx, app("v2"), spec.DefaultEnv, dto.DeployOptions{}, func(p dto.Progress) {
			mu.Lock()
			lines = append(lines, p.Message)
			mu.Unlock()
		})
		done <- err
	}()
	select {
	case <-s.exited:
	case err := <-done:
		t.Fatalf("the deploy of v2 ended (%v) and berth still runs: the failpoint did not fire", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("berth did not die at the commit point within 2m")
	}
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("berth ended with %v, want killed by SIGKILL (the failpoint)", s.cmd.ProcessState)
	}
	// As the kill left them: v2's containers run, with restart policy
	// "no" still, v1's serve on.
	at := policies(t, eng, name)
	t.Logf("running containers at the kill (release:restart policy): %v", at)
	if !slices.Contains(at, "2:no") || !slices.Contains(at, "1:always") {
		t.Fatalf("at the kill: %v, want release 2's containers still on restart policy no beside release 1's: the kill did not land at the commit point", at)
	}

	s.env = nil
	s.start()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * apiclient.LostWait):
		t.Fatal("the interrupted deploy's client did not return after berth came back")
	}
	mu.Lock()
	said := strings.Join(append(lines, fmt.Sprint(err)), "\n")
	mu.Unlock()
	t.Logf("the interrupted deploy's client: %v", err)
	var lost *apiclient.StreamLostError
	if !errors.As(err, &lost) || lost.Deployment == nil {
		t.Errorf("the client got %v, want a lost stream with the deployment as berth recorded it", err)
	}
	if strings.Contains(said, "goes on") {
		t.Errorf("the client said the interrupted deployment goes on:\n%s", said)
	}

	rels, err := s.c.Releases(ctx, name, spec.DefaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	var live []int64
	for _, r := range rels {
		if r.Status == dto.StatusLive {
			live = append(live, r.ID)
		}
	}
	if len(live) != 1 || live[0] != 2 {
		t.Errorf("live releases %v, want release 2 (v2) alone", live)
	}
	deps, err := s.c.Deployments(ctx, name, spec.DefaultEnv, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps {
		if d.Status == dto.DeploymentRunning {
			t.Errorf("deployment %d (%s of release %d) left running", d.ID, d.Kind, d.ReleaseID)
		}
	}
	// Converge repairs the policies and retires v1's containers.
	want := []string{"2:always:running", "2:always:running"}
	for deadline := time.Now().Add(60 * time.Second); ; {
		got := containersOf(t, eng, name)
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers (release:restart policy:state) 60s after the restart: %v, want %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if c, body := get(t, s.httpAddr, host, "/"); c != 200 || body != "v2" {
		t.Errorf("the proxy answers %d %q, want v2", c, body)
	}
}

// policies lists "release:restart policy" of app's running containers.
func policies(t *testing.T, eng interface {
	ListContainers(context.Context, map[string]string) ([]engine.Container, error)
}, app string) []string {
	t.Helper()
	cs, err := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: app})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		if c.Running() {
			out = append(out, c.Labels[engine.LabelRelease]+":"+c.RestartPolicy)
		}
	}
	slices.Sort(out)
	return out
}

// containersOf lists "release:restart policy:state" of every container
// of app, running or not.
func containersOf(t *testing.T, eng interface {
	ListContainers(context.Context, map[string]string) ([]engine.Container, error)
}, app string) []string {
	t.Helper()
	cs, err := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: app})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s:%s:%s", c.Labels[engine.LabelRelease], c.RestartPolicy, c.State))
	}
	slices.Sort(out)
	return out
}
