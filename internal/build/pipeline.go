package build

import (
	"context"
	"encoding/base64"

	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// DeployFunc deploys a loaded app (its built services pointing at their
// new images) to env for actor (who started the build, e.g.
// "webhook:github") and returns the deployment's ID.
type DeployFunc func(ctx context.Context, app *spec.App, env, actor string, log func(string)) (int64, error)

// Pipeline runs git-push builds: fetch the commit, build the services
// with build:, test, push, deploy. Builds of one app run one at a time;
// a newer push to a branch supersedes that branch's queued build.
type Pipeline struct {
	Store   *store.Store
	Builder *Builder
	Deploy  DeployFunc
	// WorkDir holds repository mirrors and checkouts.
	WorkDir string
	Logger  *slog.Logger
	// Notify, when set, is told when a build starts and ends.
	Notify func(b store.Build)
	// Binds, when set, refuses the app's bind mounts the server cannot
	// give it in env and keeps the files of its project binds (mounts
	// relative to the Compose file) from the checkout, before anything
	// is built.
	Binds func(ctx context.Context, app *spec.App, env string) error

	mu      sync.Mutex
	queues  map[string][]int64            // app → queued build IDs
	running map[string]context.CancelFunc // build ID → cancel
	wake    map[string]chan struct{}      // app → worker wake-up
	wg      sync.WaitGroup
	ctx     context.Context
}

// Start runs the pipeline's workers until ctx ends; Wait waits for them.
func (p *Pipeline) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx = ctx
	p.queues, p.running, p.wake = map[string][]int64{}, map[string]context.CancelFunc{}, map[string]chan struct{}{}
}

// Wait waits for the running builds to end after the context ended.
func (p *Pipeline) Wait() { p.wg.Wait() }

// Active is how many builds are queued or running.
func (p *Pipeline) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.running)
	for _, q := range p.queues {
		n += len(q)
	}
	return n
}

// Trigger is a push to build.
type Trigger struct {
	App, Env, Branch, Commit, Author, Message string
	// Actor is who started the build ("webhook:github"): its deployment
	// records it.
	Actor string
}

// Enqueue queues a build of t, superseding a queued build of the same
// branch, and returns the new build.
func (p *Pipeline) Enqueue(t Trigger) (store.Build, error) {
	b, err := p.Store.CreateBuild(store.Build{App: t.App, Env: t.Env, Branch: t.Branch, Commit: t.Commit, Author: t.Author, Message: t.Message, Actor: t.Actor})
	if err != nil {
		return b, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := p.queues[t.App][:0]
	for _, id := range p.queues[t.App] {
		if old, err := p.Store.GetBuild(id); err == nil && old.Branch == t.Branch {
			old.Status, old.EndedAt, old.Error = store.BuildSuperseded, time.Now(), fmt.Sprintf("superseded by build %d (%s)", b.ID, short(t.Commit))
			_ = p.Store.UpdateBuild(old)
			continue
		}
		kept = append(kept, id)
	}
	p.queues[t.App] = append(kept, b.ID)
	if _, ok := p.wake[t.App]; !ok {
		p.wake[t.App] = make(chan struct{}, 1)
		p.wg.Add(1)
		go p.worker(t.App, p.wake[t.App])
	}
	select {
	case p.wake[t.App] <- struct{}{}:
	default:
	}
	return b, nil
}

// Cancel cancels a queued or running build.
func (p *Pipeline) Cancel(id int64) error {
	b, err := p.Store.GetBuild(id)
	if err != nil {
		return err
	}
	if b.Done() {
		return fmt.Errorf("build %d has ended (%s)", id, b.Status)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cancel, ok := p.running[fmt.Sprint(id)]; ok {
		cancel()
		return nil
	}
	q := p.queues[b.App][:0]
	for _, qid := range p.queues[b.App] {
		if qid != id {
			q = append(q, qid)
		}
	}
	p.queues[b.App] = q
	b.Status, b.EndedAt, b.Error = store.BuildCancelled, time.Now(), "cancelled before it started"
	return p.Store.UpdateBuild(b)
}

func (p *Pipeline) worker(app string, wake chan struct{}) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		var id int64
		if q := p.queues[app]; len(q) > 0 {
			id, p.queues[app] = q[0], q[1:]
		}
		p.mu.Unlock()
		if id == 0 {
			select {
			case <-p.ctx.Done():
				return
			case <-wake:
				continue
			}
		}
		p.run(id)
	}
}

// run executes one build and records its outcome.
func (p *Pipeline) run(id int64) {
	b, err := p.Store.GetBuild(id)
	if err != nil || b.Status != store.BuildQueued {
		return
	}
	ctx, cancel := context.WithCancel(p.ctx)
	p.mu.Lock()
	p.running[fmt.Sprint(id)] = cancel
	p.mu.Unlock()
	defer func() {
		cancel()
		p.mu.Lock()
		delete(p.running, fmt.Sprint(id))
		p.mu.Unlock()
	}()
	b.Status, b.StartedAt = store.BuildRunning, time.Now()
	_ = p.Store.UpdateBuild(b)
	if p.Notify != nil {
		p.Notify(b)
	}
	r := &runLog{b: &b, st: p.Store, start: time.Now()}
	err = p.execute(ctx, &b, r)
	r.stop()
	b.EndedAt = time.Now()
	switch {
	case err == nil:
		b.Status = store.BuildSucceeded
		r.step("done in %s", b.EndedAt.Sub(b.StartedAt).Round(time.Millisecond))
	case ctx.Err() != nil && p.ctx.Err() == nil:
		b.Status, b.Error = store.BuildCancelled, "cancelled"
	default:
		b.Status, b.Error = store.BuildFailed, err.Error()
		r.line("failed: " + err.Error())
	}
	r.flush()
	if p.Notify != nil {
		p.Notify(b)
	}
	if p.Logger != nil {
		p.Logger.Info("build ended", "app", b.App, "env", b.Env, "build", b.ID, "status", b.Status, "commit", short(b.Commit))
	}
}

func (p *Pipeline) execute(ctx context.Context, b *store.Build, r *runLog) error {
	conn, _, err := p.Store.GetConnection(b.App)
	if err != nil {
		return err
	}
	key, token, err := p.Store.ConnectionCredentials(b.App)
	if err != nil {
		return err
	}
	env, cleanup, err := p.gitEnv(b.App, key, token)
	if err != nil {
		return err
	}
	defer cleanup()
	dir, err := p.checkout(ctx, conn.Repo, b.App, b.Commit, env, r)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg, _ := p.Store.Config(b.App, b.Env)
	// The checkout's directory is a temporary one: a file that names no
	// app deploys as the app the repository is connected to. One that
	// names another (name:, COMPOSE_PROJECT_NAME) is refused.
	app, err := spec.Load(ctx, spec.LoadOptions{Files: []string{filepath.Join(dir, conn.File)}, Environ: cfg, DefaultName: b.App})
	if err != nil {
		return fmt.Errorf("read %s at %s: %w", conn.File, short(b.Commit), err)
	}
	app = app.ForEnv(b.Env)
	if app.Name != b.App {
		return fmt.Errorf("%s at %s names the app %q, but the repository is connected to %q: remove its name: or write name: %s", conn.File, short(b.Commit), app.Name, b.App, b.App)
	}
	for _, w := range app.Warnings {
		r.step("warning: %s", w)
	}
	for _, n := range app.Notes {
		r.step("note: %s", n)
	}
	if p.Binds != nil {
		if err := p.Binds(ctx, app, b.Env); err != nil {
			return fmt.Errorf("%s at %s: %w", conn.File, short(b.Commit), err)
		}
		if s := app.BindSummary(); s != "" {
			r.step("%s", s)
		}
	}
	for i := range app.Services {
		svc := &app.Services[i]
		if svc.Build == nil {
			continue
		}
		tag := Tag(app.Name, svc.Name, short(b.Commit))
		if svc.Image != "" {
			tag = svc.Image
			if named, err := reference.ParseNormalizedNamed(tag); err == nil && reference.IsNameOnly(named) {
				tag += ":" + short(b.Commit)
			}
		}
		tarball, err := ContextOf(svc.Build)
		if err != nil {
			return fmt.Errorf("service %q: build context: %w", svc.Name, err)
		}
		r.step("build %s as %s", svc.Name, tag)
		_, err = p.Builder.Build(ctx, Request{App: app.Name, Service: svc.Name, Tag: tag, Dockerfile: svc.Build.Dockerfile,
			Target: svc.Build.Target, Args: svc.Build.Args, Test: svc.Test, Revision: b.Commit, Container: svc.Container,
			Options: OptionsFor(svc.Build)}, tarball, r.line)
		tarball.Close()
		if err != nil {
			return err
		}
		svc.Image = tag
	}
	r.step("deploy to %s", b.Env)
	depID, err := p.Deploy(ctx, app, b.Env, b.Actor, r.line)
	r.mu.Lock() // b is r.b: the log's timer reads it
	b.DeploymentID = depID
	r.mu.Unlock()
	return err
}

// checkout fetches commit from repo into a fresh directory, through a
// per-app mirror kept between builds.
func (p *Pipeline) checkout(ctx context.Context, repo, app, commit string, env []string, r *runLog) (string, error) {
	git := func(ctx context.Context, dir string, args ...string) error { return runGit(ctx, env, dir, args...) }
	if !commitRE.MatchString(commit) {
		return "", fmt.Errorf("commit %q is not a hexadecimal commit id", commit)
	}
	mirror := filepath.Join(p.WorkDir, app, "mirror.git")
	r.step("fetch %s from %s", short(commit), repo)
	if _, err := os.Stat(mirror); err != nil {
		if err := os.MkdirAll(filepath.Dir(mirror), 0o700); err != nil {
			return "", err
		}
		if err := git(ctx, "", "clone", "--quiet", "--mirror", repo, mirror); err != nil {
			return "", fmt.Errorf("fetch %s: %w", repo, err)
		}
	} else if err := git(ctx, mirror, "fetch", "--quiet", "--prune", repo, "+refs/*:refs/*"); err != nil {
		return "", fmt.Errorf("fetch %s: %w", repo, err)
	}
	dir, err := os.MkdirTemp(filepath.Join(p.WorkDir, app), "checkout-")
	if err != nil {
		return "", err
	}
	if err := git(ctx, "", "clone", "--quiet", "--shared", "--no-checkout", mirror, dir); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if err := git(ctx, dir, "checkout", "--quiet", "--detach", commit); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("commit %s is not in %s: %w", short(commit), repo, err)
	}
	return dir, nil
}

// gitEnv is git's environment for app: no prompts, and with an ssh key
// (written 0600 for the build's duration) and the data dir's known_hosts
// when the connection has one.
func (p *Pipeline) gitEnv(app, key, token string) ([]string, func(), error) {
	env := append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if token != "" {
		// An http token travels in a header set through git's environment
		// config, never in the URL or on a command line.
		if !strings.Contains(token, ":") {
			token = "x-access-token:" + token
		}
		env = append(env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader",
			"GIT_CONFIG_VALUE_0=Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte(token)))
	}
	if key == "" {
		return env, func() {}, nil
	}
	f, err := os.CreateTemp(filepath.Join(p.WorkDir), "key-"+app+"-")
	if err != nil {
		if err := os.MkdirAll(p.WorkDir, 0o700); err != nil {
			return nil, nil, err
		}
		if f, err = os.CreateTemp(p.WorkDir, "key-"+app+"-"); err != nil {
			return nil, nil, err
		}
	}
	if !strings.HasSuffix(key, "\n") {
		key += "\n"
	}
	_, err = f.WriteString(key)
	f.Close()
	if err != nil {
		os.Remove(f.Name())
		return nil, nil, err
	}
	known := filepath.Join(p.WorkDir, "known_hosts")
	env = append(env, fmt.Sprintf("GIT_SSH_COMMAND=ssh -i %s -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=%s", f.Name(), known))
	return env, func() { os.Remove(f.Name()) }, nil
}

func runGit(ctx context.Context, env []string, dir string, args ...string) error {
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// commitRE is what a commit id from a webhook must look like before it
// reaches git (never an option such as --upload-pack=…).
var commitRE = regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`)

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// runLog keeps a build's log and steps, flushing them to the store at
// most every half second so followers see progress.
type runLog struct {
	mu      sync.Mutex
	b       *store.Build
	st      *store.Store
	start   time.Time
	last    time.Time
	pending *time.Timer // a flush scheduled for lines not yet stored
	closed  bool        // the run is recording its outcome: no more timed flushes
}

// stop ends timed flushes before the run writes its outcome.
func (r *runLog) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.pending != nil {
		r.pending.Stop()
		r.pending = nil
	}
}

func (r *runLog) line(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.b.Log = append(r.b.Log, s)
	if len(r.b.Log) > 5000 {
		r.b.Log = r.b.Log[len(r.b.Log)-5000:]
	}
	if time.Since(r.last) > 500*time.Millisecond {
		r.last = time.Now()
		_ = r.st.UpdateBuild(*r.b)
	} else if r.pending == nil && !r.closed {
		r.pending = time.AfterFunc(500*time.Millisecond, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.closed {
				return
			}
			r.pending = nil
			r.last = time.Now()
			_ = r.st.UpdateBuild(*r.b)
		})
	}
}

func (r *runLog) step(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.b.Steps = append(r.b.Steps, store.Step{At: time.Now(), Elapsed: spec.Duration(time.Since(r.start)), Message: msg})
	r.mu.Unlock()
	r.line(msg)
}

func (r *runLog) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.st.UpdateBuild(*r.b)
}
