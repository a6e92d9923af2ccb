package e2e

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/spec"
)

// crashTrial is one kill: action starts, and berth is killed At after it
// started, or, with AtCommit, as soon as the action's stream says routes
// switched or a canary takes its share (the store made the release live
// or canary just before, the new containers' restart policies come just
// after). That lands near the commit point, not always on it;
// TestServer_KilledAtTheCommitPointEndsConsistent hits it every time,
// with daemon.EnvFailpoint.
type crashTrial struct {
	Action   string // deploy, rollback, canary, promote, scale, config, secret
	At       time.Duration
	AtCommit bool
}

func (tr crashTrial) String() string {
	if tr.AtCommit {
		return tr.Action + " at the commit point"
	}
	return fmt.Sprintf("%s at %s", tr.Action, tr.At.Round(time.Millisecond))
}

// crashRig runs trials against one app on one trialServer.
type crashRig struct {
	t         *testing.T
	eng       *docker.Backend
	s         *trialServer
	name      string
	host      string
	version   int
	replicas  int
	acked     dto.ConfigView // config and secrets as last acknowledged
	committed int            // commit-point trials that killed before the policies were set
	load      string         // what the load through the proxy saw
}

func newCrashRig(t *testing.T) *crashRig {
	t.Helper()
	eng := requireDocker(t)
	r := &crashRig{t: t, eng: eng, replicas: 2}
	r.s = newTrialServer(t, berthBinary(t))
	r.name, r.host = newApp(t, eng)
	ctx := context.Background()
	for range 2 {
		if _, err := r.s.c.Deploy(ctx, r.nextApp(), spec.DefaultEnv, dto.DeployOptions{}, nil); err != nil {
			t.Fatalf("set-up deploy: %v", err)
		}
	}
	if _, err := r.s.c.ChangeConfig(ctx, r.name, spec.DefaultEnv, dto.ConfigChange{Set: map[string]string{"K0": "0"}}, nil); err != nil {
		t.Fatalf("set-up config set: %v", err)
	}
	if _, err := r.s.c.SetSecret(ctx, r.name, spec.DefaultEnv, "S0", "s0", nil); err != nil {
		t.Fatalf("set-up secret set: %v", err)
	}
	r.acked = r.config(t)
	return r
}

func (r *crashRig) nextApp() *spec.App {
	r.version++
	return loadApp(r.t, r.name, r.host, appOpts{Version: "v" + strconv.Itoa(r.version), Replicas: r.replicas, Deadline: "30s", Drain: "2s"})
}

func (r *crashRig) config(t *testing.T) dto.ConfigView {
	t.Helper()
	v, err := r.s.c.Config(context.Background(), r.name, spec.DefaultEnv)
	if err != nil {
		t.Fatalf("config of %s: %v", r.name, err)
	}
	return v
}

// actions are what may run in app/env's state: during a canary only
// promote and rollback (anything else is refused).
func (r *crashRig) actions() []string {
	st, err := r.s.c.Status(context.Background(), r.name, spec.DefaultEnv)
	if err == nil && st.Canary != nil {
		return []string{"promote", "promote", "rollback"}
	}
	return []string{"deploy", "rollback", "canary", "scale", "config", "secret"}
}

// start runs tr's action in the background; its outcome comes on the
// channel (after berth is back, for a stream the kill broke). It returns
// the configuration the action would leave, and a channel closed when
// the action's stream says the routes switched.
func (r *crashRig) start(tr crashTrial, n int) (<-chan error, dto.ConfigView, <-chan struct{}) {
	c, ctx, env := r.s.c, context.Background(), spec.DefaultEnv
	switched := make(chan struct{})
	progress := func(p dto.Progress) {
		if strings.Contains(p.Message, "switched") || strings.Contains(p.Message, "% of clients (sticky") {
			select {
			case <-switched:
			default:
				close(switched)
			}
		}
	}
	want := dto.ConfigView{Config: maps.Clone(r.acked.Config), Secrets: append([]string(nil), r.acked.Secrets...)}
	var run func() error
	switch tr.Action {
	case "deploy", "canary":
		app, opts := r.nextApp(), dto.DeployOptions{}
		if tr.Action == "canary" {
			opts.Canary = 30
		}
		run = func() error { _, err := c.Deploy(ctx, app, env, opts, progress); return err }
	case "rollback":
		run = func() error { _, err := c.Rollback(ctx, r.name, env, 0, dto.DeployOptions{}, progress); return err }
	case "promote":
		run = func() error { _, err := c.Promote(ctx, r.name, env, progress); return err }
	case "scale":
		n := 1 + n%3
		run = func() error {
			_, err := c.Scale(ctx, r.name, env, []dto.ScaleTarget{{Service: "web", Replicas: n}}, progress)
			return err
		}
	case "config":
		k, v := "K"+strconv.Itoa(n%4), strconv.Itoa(n)
		want.Config[k] = v
		run = func() error {
			_, err := c.ChangeConfig(ctx, r.name, env, dto.ConfigChange{Set: map[string]string{k: v}}, progress)
			return err
		}
	case "secret":
		k := "S" + strconv.Itoa(n%3)
		if !contains(want.Secrets, k) {
			want.Secrets = append(want.Secrets, k)
		}
		run = func() error { _, err := c.SetSecret(ctx, r.name, env, k, "s"+strconv.Itoa(n), progress); return err }
	default:
		r.t.Fatalf("unknown action %q", tr.Action)
	}
	done := make(chan error, 1)
	go func() { done <- run() }()
	return done, want, switched
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// trial runs one: the action, the kill, the restart, and the checks. It
// returns what was inconsistent ("" for a consistent end) and what the
// action's client got.
func (r *crashRig) trial(tr crashTrial, n int) (why, got string) {
	r.t.Helper()
	done, want, switched := r.start(tr, n)
	var before error // the outcome of an action over before the kill
	if tr.AtCommit {
		select {
		case <-switched:
		case before = <-done: // no switch (a scale to the count it has): killed at its end
			done = nil
		case <-time.After(60 * time.Second):
			return "the action did not switch within 60s", "no kill"
		}
	} else {
		select {
		case <-time.After(tr.At):
		case before = <-done: // over before the instant: the kill lands after it
			done = nil
			time.Sleep(tr.At / 4)
		}
	}
	r.s.kill()
	policies := r.livePolicies() // as the kill left them: nothing changes them now
	if tr.AtCommit {
		r.t.Logf("restart policies of the running containers at the kill: %s", policies)
		if strings.Contains(policies, ":no") {
			r.committed++
		}
	}
	r.s.start()
	var outcome error
	if done != nil {
		select {
		case outcome = <-done:
		case <-time.After(2 * apiclient.LostWait):
			return "the client did not return after berth came back", "no answer"
		}
		got = "after the restart: " + outcomeOf(outcome)
	} else {
		got = "before the kill: " + outcomeOf(before)
	}
	var bad []string
	bad = append(bad, r.checkStore()...)
	bad = append(bad, r.checkClient(outcome)...)
	bad = append(bad, r.checkConfig(tr, want)...)
	bad = append(bad, r.checkEngine()...)
	r.acked = r.config(r.t)
	return strings.Join(bad, "; "), got
}

// outcomeOf is an action's result, short, for the log.
func outcomeOf(err error) string {
	var lost *apiclient.StreamLostError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &lost) && lost.Deployment != nil:
		return fmt.Sprintf("stream lost, deployment %d %s", lost.Deployment.ID, lost.Deployment.Status)
	case errors.As(err, &lost) && lost.Answered:
		return "stream lost, no deployment begun"
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return msg
}

// livePolicies are the restart policies of app's running containers,
// for the log.
func (r *crashRig) livePolicies() string {
	cs, _ := r.eng.ListContainers(context.Background(), map[string]string{"berth.app": r.name})
	var out []string
	for _, c := range cs {
		if c.Running() {
			out = append(out, "r"+c.Labels["berth.release"]+":"+c.RestartPolicy)
		}
	}
	return strings.Join(out, " ")
}

// checkClient: what the client said of a deployment the kill broke
// matches the store, and never that an interrupted one goes on.
func (r *crashRig) checkClient(err error) []string {
	var lost *apiclient.StreamLostError
	if !errors.As(err, &lost) {
		return nil
	}
	if lost.Deployment == nil && lost.Answered {
		return nil // berth stopped before the request began a deployment
	}
	if lost.Deployment == nil {
		return []string{"the client did not learn what became of the deployment: " + err.Error()}
	}
	if lost.Deployment.Status == dto.DeploymentInterrupted && strings.Contains(err.Error(), "goes on") {
		return []string{"the client says an interrupted deployment goes on: " + err.Error()}
	}
	if lost.Deployment.Status == dto.DeploymentRunning {
		return []string{"the client saw the deployment still running after the restart: " + err.Error()}
	}
	return nil
}

// runCrashTrials runs n trials, next choosing each, under a constant
// load through the proxy, and returns them and the inconsistent ends.
func runCrashTrials(t *testing.T, r *crashRig, n int, next func(i int) crashTrial) ([]crashTrial, []string) {
	l := startPacedLoad(r.s.httpAddr, r.host, 4, 200)
	defer l.stop()
	var trials []crashTrial
	var bad []string
	for i := range n {
		tr := next(i)
		trials = append(trials, tr)
		start := time.Now()
		why, got := r.trial(tr, i+1)
		t.Logf("trial %d/%d: %s: %s (%.1fs; the client: %s)", i+1, n, tr, cmp.Or(why, "consistent"), time.Since(start).Seconds(), got)
		if why != "" {
			bad = append(bad, fmt.Sprintf("trial %d (%s): %s", i+1, tr, why))
		}
	}
	r.load = fmt.Sprintf("%d requests, %d failed (those in flight at a kill, and new ones while berth was down)", l.total.Load(), l.failed.Load())
	t.Logf("load through the proxy meanwhile: %s", r.load)
	return trials, bad
}

// The short version, in make test: a kill at the commit point of a
// deploy (which left the new live containers on restart policy "no" for
// good) and of a canary, and at random instants of a promote, a scale, a
// config set and a rollback.
func TestServer_KilledAtAnyInstantEndsConsistent(t *testing.T) {
	if testing.Short() {
		t.Skip("real Docker and the berth binary")
	}
	r := newCrashRig(t)
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed))
	trials := []crashTrial{
		{Action: "deploy", AtCommit: true},
		{Action: "canary", AtCommit: true},
		{Action: "promote", At: randomInstant(rng, "promote")},
		{Action: "scale", At: randomInstant(rng, "scale")},
		{Action: "config", At: randomInstant(rng, "config")},
		{Action: "rollback", At: randomInstant(rng, "rollback")},
	}
	_, bad := runCrashTrials(t, r, len(trials), func(i int) crashTrial { return trials[i] })
	t.Logf("trials %d, inconsistent %d, seed %d; commit-point kills before the restart policies were set: %d of 2", len(trials), len(bad), seed, r.committed)
	for _, b := range bad {
		t.Error(b)
	}
}

// TestBenchCrash is make bench-crash: BERTH_CRASH_TRIALS (40) kills at
// random instants of deploy, rollback, canary, promote, scale, config
// set and secret set under a constant load, one in five at the commit
// point instead; prints the count of trials and of inconsistent
// ends with what was inconsistent.
func TestBenchCrash(t *testing.T) {
	if os.Getenv("BERTH_BENCH_CRASH") != "1" {
		t.Skip("benchmark: run with make bench-crash")
	}
	n := 40
	if v, err := strconv.Atoi(os.Getenv("BERTH_CRASH_TRIALS")); err == nil && v > 0 {
		n = v
	}
	r := newCrashRig(t)
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed))
	trials, bad := runCrashTrials(t, r, n, func(int) crashTrial {
		acts := r.actions()
		act := acts[rng.IntN(len(acts))]
		return crashTrial{Action: act, At: randomInstant(rng, act), AtCommit: rng.IntN(5) == 0}
	})
	counts := map[string]int{}
	for _, tr := range trials {
		counts[tr.Action]++
	}
	fmt.Printf("crash trials: seed %d (BERTH_CRASH_SEED=%d repeats them)\n", seed, seed)
	fmt.Printf("actions: %v; at the commit point: %d (killed before the restart policies were set: %d)\n", counts, countCommit(trials), r.committed)
	fmt.Printf("load through the proxy: %s\n", r.load)
	for _, b := range bad {
		fmt.Println("inconsistent:", b)
	}
	fmt.Printf("trials %d, inconsistent %d\n", n, len(bad))
	if len(bad) > 0 {
		t.Errorf("%d of %d trials ended inconsistent", len(bad), n)
	}
}

func countCommit(trials []crashTrial) int {
	n := 0
	for _, tr := range trials {
		if tr.AtCommit {
			n++
		}
	}
	return n
}

// crashSeed is BERTH_CRASH_SEED, or the time; logged so a run repeats.
func crashSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("BERTH_CRASH_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("crash seed %d (BERTH_CRASH_SEED=%d repeats it)", seed, seed)
	return seed
}

// randomInstant is a delay after an action starts: within the 3s a
// deploy of two replicas takes here, its start, health wait, switch and
// drain included; 1.5s for a scale, which starts fewer containers.
func randomInstant(rng *rand.Rand, action string) time.Duration {
	within := 3 * time.Second
	if action == "scale" {
		within = 1500 * time.Millisecond
	}
	return time.Duration(rng.Int64N(int64(within)))
}
