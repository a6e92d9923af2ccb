package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/metrics"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/proxy/l4"
	"github.com/berth-dev/berth/internal/store"
)

// ErrBusy is returned when a deployment of the same app and environment
// is already running.
var ErrBusy = errors.New("a deployment is already running")

// ErrInvalid is returned for an app definition this server refuses.
var ErrInvalid = errors.New("refused")

// ErrNoRelease is returned when there is nothing to roll back to or the
// named release does not exist.
var ErrNoRelease = errors.New("no such release")

// Options configures a Deployer.
type Options struct {
	Engine engine.Engine
	// Cluster, when set (berth server --engine swarm), runs each service
	// as one workload of the cluster, rolled out by the cluster's own
	// updater and followed task by task; Engine is then the same backend
	// seen as containers (images, networks, one-off commands).
	Cluster engine.Workloads
	Store   *store.Store
	Proxy   *proxy.Proxy
	Logger  *slog.Logger
	// KeepReleases is how many releases per app/env keep their images for
	// rollback, and how many failed ones stay in the history (default 10).
	KeepReleases int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// BindRoot is the host directory bind mounts must be under; empty
	// refuses every bind mount.
	BindRoot string

	// Bind mounts (binds.go):

	// BindRoots are more directories host paths may be mounted from
	// (with BindRoot: any of them).
	BindRoots []string
	// AllowDockerSocket lets apps mount the engine's socket (and the
	// directories holding it): such an app is root on the host.
	AllowDockerSocket bool
	// EngineSocket is the engine's local socket when DOCKER_HOST names
	// one elsewhere than /var/run/docker.sock.
	EngineSocket string
	// BindsDir keeps the copies of the project files that deploys send
	// (bind mounts relative to the Compose file); empty refuses them.
	BindsDir string

	// Ports holds the listeners of published ports (ports.go); the
	// daemon owns it and closes it. Default: a set of the Deployer's own.
	Ports *l4.Set
	// ProxyAddrs are the addresses berth's own HTTP(S) proxy listens on
	// (--http-addr, --https-addr): a published port there is refused
	// with what to write instead.
	ProxyAddrs []string
	// Alert, when set, is told what the healer wants a person to know
	// (kind EventReplaceFailed, EventAllFailing): the daemon's
	// notifications.
	Alert func(app, env, kind, message string)

	// AfterLiveCommit is a test hook, nil in use: called right after the
	// store transaction that makes a release live (the commit point of a
	// deploy, rollback or promotion), before routes switch and restart
	// policies are set. The daemon sets it only under BERTH_FAILPOINT
	// (daemon/failpoint.go), to kill itself at that very instant.
	AfterLiveCommit func()
}

// Deployer runs deployments and rollbacks.
type Deployer struct {
	cluster engine.Workloads // nil on one host
	pending pendingPools     // cluster routes' successor pools not yet healthy
	// clusterPages is the release whose error pages and maintenance the
	// proxy has, per app environment, for SyncClusterRoutes.
	clusterPagesMu sync.Mutex
	clusterPages   map[[2]string]int64
	// clusterTasks are the tasks each app environment's last sync saw
	// desired running, to tell which ended and how (cluster_events.go);
	// guarded by clusterPagesMu too.
	clusterTasks map[[2]string]map[string]engine.Instance
	// drains owns the Deployer's background goroutines: retirements of
	// old releases and drains of published ports' old pools (retire.go);
	// bg is their context, cancelled by Close, which waits for them.
	drains   sync.WaitGroup
	bg       context.Context
	stopBg   context.CancelFunc
	retiring retirements // old releases' containers, owned by their retirement
	heal     healer      // self-healing's state (heal.go)
	alertFn  func(app, env, kind, message string)
	eng      engine.Engine
	store    *store.Store
	proxy    *proxy.Proxy
	log      *slog.Logger
	keep     int
	now      func() time.Time
	binds    bindPolicy // binds.go
	ports    *l4.Set    // listeners of published ports (ports.go)
	proxyAt  []string   // Options.ProxyAddrs
	// afterCommit: Options.AfterLiveCommit (a test hook; nil in use).
	afterCommit func()
	// traffic is each app environment's recent traffic (traffic.go).
	traffic    *metrics.History
	trafficDay *metrics.History // the day's, merged (traffic.go)
	dayAt      time.Time        // the day step boundary last merged; the sampler's
	images     imageList        // the engine's images, for ImageBytes (prune.go)

	mu      sync.Mutex
	running map[string]runningDeploy // key app/env
	// canaries are the running canaries' pools and watches, key app/env
	// (canary.go).
	canaries map[string]*canaryRun
}

type runningDeploy struct {
	id      int64
	kind    store.DeploymentKind
	started time.Time
	done    chan struct{} // closed when the holder releases app/env
	// t is the deployment's progress, once it is recorded (for
	// FollowDeployment).
	t *tracker
}

// lockWait is how long a deployment waits for a reconcile pass that
// holds its app environment.
const lockWait = 15 * time.Second

// New returns a Deployer.
func New(o Options) *Deployer {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.KeepReleases <= 0 {
		o.KeepReleases = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Ports == nil {
		o.Ports = l4.NewSet()
	}
	bg, stopBg := context.WithCancel(context.Background())
	return &Deployer{
		bg: bg, stopBg: stopBg, afterCommit: o.AfterLiveCommit,
		eng: o.Engine, cluster: o.Cluster, store: o.Store, proxy: o.Proxy,
		log:        o.Logger.With("component", "deploy"),
		keep:       o.KeepReleases,
		binds:      newBindPolicy(o),
		ports:      o.Ports,
		now:        o.Now,
		running:    map[string]runningDeploy{},
		proxyAt:    o.ProxyAddrs,
		canaries:   map[string]*canaryRun{},
		heal:       newHealer(),
		alertFn:    o.Alert,
		traffic:    metrics.NewHistory(int(TrafficSpan / TrafficStep)),
		trafficDay: metrics.NewHistory(int(TrafficDaySpan / TrafficDayStep)),
	}
}

func lockKey(app, env string) string { return app + "/" + env }

// liveCommitted runs the AfterLiveCommit test hook, if any, right after
// a release's live commit: one nil check when there is none.
func (d *Deployer) liveCommitted() {
	if d.afterCommit != nil {
		d.afterCommit()
	}
}

// kindReconcile holds an app environment's lock for a reconcile pass,
// which records no deployment.
const kindReconcile store.DeploymentKind = "reconcile"

// tryLock claims app/env for one deployment. The returned func releases
// it. A deployment waits for a running reconcile pass (they are short);
// anything else holding app/env makes it fail with ErrBusy.
func (d *Deployer) tryLock(app, env string, kind store.DeploymentKind) (func(), error) {
	timeout := time.NewTimer(lockWait)
	defer timeout.Stop()
	for {
		unlock, err, wait := d.tryLockOnce(app, env, kind)
		if wait == nil {
			return unlock, err
		}
		select {
		case <-wait:
		case <-timeout.C:
			return nil, err
		}
	}
}

// tryLockOnce claims app/env, or says why not; wait, when not nil, is
// closed once the reconcile pass that holds it is done.
func (d *Deployer) tryLockOnce(app, env string, kind store.DeploymentKind) (func(), error, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := lockKey(app, env)
	if r, ok := d.running[k]; ok {
		if r.kind == kindReconcile && kind != kindReconcile {
			return nil, fmt.Errorf("%w for %s (reconcile pass)", ErrBusy, k), r.done
		}
		if r.kind == kindHeal && kind != kindReconcile && kind != kindHeal {
			return nil, fmt.Errorf("%w for %s: berth is replacing failed containers (started %s ago); try again once berth events shows the replacement",
				ErrBusy, k, d.now().Sub(r.started).Round(100*time.Millisecond)), r.done
		}
		what := string(r.kind)
		if r.id != 0 {
			what += fmt.Sprintf(" %d", r.id)
		}
		return nil, fmt.Errorf("%w for %s (%s, started %s ago): wait for it to finish, then try again",
			ErrBusy, k, what, d.now().Sub(r.started).Round(100*time.Millisecond)), nil
	}
	done := make(chan struct{})
	d.running[k] = runningDeploy{kind: kind, started: d.now(), done: done}
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			delete(d.running, k)
			d.mu.Unlock()
			close(done)
		})
	}, nil, nil
}

// setRunningID records that the holder of app/env's lock runs
// deployment id, whose progress t tracks.
func (d *Deployer) setRunningID(app, env string, id int64, t *tracker) {
	t.setID(id)
	d.mu.Lock()
	defer d.mu.Unlock()
	k := lockKey(app, env)
	if r, ok := d.running[k]; ok {
		r.id, r.t = id, t
		d.running[k] = r
	}
}

// FollowDeployment is for watching deployment id while it runs: its
// progress lines from the from-th on (counting from 0, the first line
// said), a channel closed at its next line, and one closed when it
// ended. ok is false when it is not running (any more) on this server:
// its record (store.Deployment.Timeline) then has every line, written
// before done is closed.
func (d *Deployer) FollowDeployment(id int64, from int) (lines []Progress, more, done <-chan struct{}, ok bool) {
	d.mu.Lock()
	var run runningDeploy
	for _, r := range d.running {
		if r.id == id && r.t != nil {
			run, ok = r, true
			break
		}
	}
	d.mu.Unlock()
	if !ok {
		return nil, nil, nil, false
	}
	lines, more = run.t.since(from)
	return lines, more, run.done, true
}

// Busy reports whether a deployment of app/env is running.
func (d *Deployer) Busy(app, env string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.running[lockKey(app, env)]
	return ok
}

// Running is how many deployments are running, over every app
// environment.
func (d *Deployer) Running() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.running)
}

// Retiring is how many old releases are draining or being removed.
func (d *Deployer) Retiring() int {
	d.retiring.mu.Lock()
	defer d.retiring.mu.Unlock()
	return len(d.retiring.all)
}

// Progress is one line of a deployment's progress.
type Progress struct {
	Time    time.Time     `json:"time"`
	Elapsed time.Duration `json:"elapsed"`
	Message string        `json:"message"`
	// Deployment is the deployment's id, on the lines said once it is
	// recorded (0 before).
	Deployment int64 `json:"deployment,omitempty"`
}

// ProgressFunc receives progress as it happens. It must not block.
type ProgressFunc func(Progress)
