package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/internal/api"
	"github.com/berth-dev/berth/internal/autoscale"
	"github.com/berth-dev/berth/internal/build"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/metrics"
	"github.com/berth-dev/berth/internal/notify"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/proxy/l4"
	"github.com/berth-dev/berth/internal/reconcile"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web"
)

// core is the part of the server that holds the data dir and acts on
// the engine: the store, the engine client, the deployer, the build
// pipeline, the API's handler and the background loops. The front (the
// listeners, the proxy and its routes) outlives it: a hand-off closes
// the core so that the successor can open the store, while this process
// goes on proxying, and opens it again when the successor fails.
type core struct {
	st       *store.Store
	eng      closingEngine
	dep      *deploy.Deployer
	pipe     *build.Pipeline
	api      http.Handler
	cancel   context.CancelFunc
	loops    *errgroup.Group
	closeOne sync.Once
}

// front is what the core is given of the front.
type front struct {
	px         *proxy.Proxy
	ports      *l4.Set
	token      string
	apiURL     string
	metricsNet []netip.Prefix
	auditLog   io.Writer
	restart    func() error
	handoffErr func() string
}

// openCore opens the store and the engine, recovers the deployer's
// state, restores the routes into the proxy (every target health-checked
// before it is routed), and starts the background loops, which end with
// ctx or close.
func openCore(ctx context.Context, cfg Config, fr front, log *slog.Logger) (_ *core, err error) {
	st, err := store.Open(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	c := &core{st: st}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	serverID, err := ensureServerID(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if c.eng, err = openEngine(cfg, serverID, log); err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	info, err := c.eng.Ping(pctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Docker engine (%w): start it (scripts/ensure-docker does) or point DOCKER_HOST at it", err)
	}
	log.Info("docker engine", "engine", cfg.Engine, "version", info.Version, "api_version", info.APIVersion, "server_id", serverID)
	if info.SwarmManager && cfg.Engine != "swarm" {
		log.Info("this Docker engine is a Swarm manager: berth server --engine swarm runs each service as a Swarm service across the cluster's nodes")
	}
	pruneAudit(st, cfg.AuditRetention, time.Now(), log)

	var cluster engine.Workloads
	if w, ok := c.eng.(engine.Workloads); ok && cfg.Engine == "swarm" {
		cluster = w
	}
	afterCommit, err := failpoint(log)
	if err != nil {
		return nil, err
	}
	notifier := notify.New(notify.Options{Targets: api.NotifyTargets(st), Logger: log})
	c.dep = deploy.New(deploy.Options{Engine: c.eng, Cluster: cluster, Store: st, Proxy: fr.px, Ports: fr.ports, Logger: log, BindRoot: cfg.BindRoot, KeepReleases: cfg.KeepReleases,
		BindRoots: cfg.BindRoots, AllowDockerSocket: cfg.AllowDockerSocket, EngineSocket: engineSocket(cfg.DockerHost), BindsDir: bindsDir(cfg.DataDir),
		ProxyAddrs: proxyAddrs(cfg), AfterLiveCommit: afterCommit, Alert: func(app, env, kind, msg string) {
			notifier.Send(notify.Event{Kind: kind, App: app, Env: env, Message: msg, Time: time.Now()})
		}})
	if err := c.dep.Recover(); err != nil {
		return nil, err
	}
	var backups *deploy.Backups
	if cluster == nil { // a Swarm cluster's volumes are on its nodes
		backups = c.dep.NewBackups(deploy.BackupOptions{Dir: backupDir(cfg), HelperBinary: helperBinary(cfg), StageHook: cfg.BackupStageHook, Logger: log, OnFailure: api.NotifyBackupFailure(notifier)})
		// A restore killed half-way, before converging or self-healing
		// replaces the containers it stopped.
		backups.FinishRestores(ctx)
	}
	if err := c.dep.ConvergeAll(ctx); err != nil {
		log.Warn("restore routes", "error", err)
	}

	lctx, cancelLoops := context.WithCancel(ctx)
	c.cancel = cancelLoops
	builder := &build.Builder{Engine: c.eng, Credentials: st.RegistryAuth, TestOptions: deploy.TestContainerOptions}
	c.pipe = api.NewPipeline(st, builder, c.dep, notifier, filepath.Join(cfg.DataDir, "builds"), fr.apiURL)
	c.pipe.Logger = log
	c.pipe.Start(lctx)
	jobs := c.dep.NewScheduler(deploy.SchedulerOptions{Logger: log, OnFailure: api.NotifyJobFailure(notifier)})
	apiH := api.New(api.Options{Deployer: c.dep, Jobs: jobs, Backups: backups, Builder: builder, Pipeline: c.pipe, Notifier: notifier,
		Metrics: metrics.Handler(c.dep.MetricsSources()), Store: st, Token: fr.token, MetricsAllow: fr.metricsNet,
		AuditLog: fr.auditLog, SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax, Restart: fr.restart, HandoffError: fr.handoffErr, Version: cfg.Version,
		Logger: log, Context: lctx}).Handler()
	console, err := web.New(web.Options{API: apiH, Logger: log}) // the console at /, the API beside it
	if err != nil {
		return nil, err // the deferred close cancels the loops
	}
	c.api = console.Handler()

	g, gctx := errgroup.WithContext(lctx)
	c.loops = g
	g.Go(func() error { notifier.Run(gctx); return nil })
	g.Go(func() error { c.dep.RunHealer(gctx); return nil })
	g.Go(func() error { c.dep.RunTraffic(gctx); return nil }) // the console's charts and p99
	g.Go(func() error {
		autoscale.Run(gctx, autoscale.Options{Source: autoscaler{dep: c.dep, st: st}, Scaler: autoscaler{dep: c.dep, st: st}, Logger: log})
		return nil
	})
	// On a cluster each job run is a one-off Swarm task; backups are of
	// one host's volumes.
	g.Go(func() error { jobs.Run(gctx); return nil })
	if cluster == nil {
		g.Go(func() error { backups.Run(gctx, 0); return nil }) // x-berth.backups.schedule
	}
	if cluster != nil {
		g.Go(func() error {
			reconcile.FollowCluster(gctx, reconcile.FollowOptions{Routes: c.dep, Logger: log})
			return nil
		})
	}
	g.Go(func() error {
		return reconcile.Run(gctx, reconcile.Options{Engine: c.eng, Converger: c.dep, Logger: log, OnEvent: c.dep.RecordEvent,
			Prune: func(ctx context.Context) {
				pruneAudit(st, cfg.AuditRetention, time.Now(), log)
				if rep, err := c.dep.Prune(ctx); err != nil {
					log.Warn("daily prune", "error", err)
				} else {
					log.Info("daily prune", "images", len(rep.Images), "containers", len(rep.Containers), "freed_bytes", rep.FreedBytes)
				}
				if backups != nil { // retention, as berth prune applies it: never a volume's newest backup
					if removed, err := backups.Prune(); err != nil {
						log.Warn("daily prune of backups", "error", err)
					} else if len(removed) > 0 {
						log.Info("daily prune of backups", "removed", len(removed))
					}
				}
			}})
	})
	return c, nil
}

// busy says what the core is in the middle of that a hand-off waits for
// ("" when nothing): a deployment, an old release's drain and retirement,
// a build.
func (c *core) busy() string {
	if n := c.dep.Running(); n > 0 {
		return fmt.Sprintf("%d deployment(s) running", n)
	}
	if n := c.dep.Retiring(); n > 0 {
		return fmt.Sprintf("%d old release(s) draining", n)
	}
	if n := c.pipe.Active(); n > 0 {
		return fmt.Sprintf("%d build(s) queued or running", n)
	}
	return ""
}

// wait returns the background loops' first error once they ended.
func (c *core) wait() error {
	if c.loops == nil {
		return nil
	}
	return c.loops.Wait()
}

// close stops the loops and the pipeline, and closes the deployer, the
// engine client and the store (its lock released). Idempotent.
func (c *core) close() {
	c.closeOne.Do(func() {
		if c.cancel != nil {
			c.cancel()
		}
		_ = c.wait()
		if c.pipe != nil {
			c.pipe.Wait()
		}
		if c.dep != nil {
			c.dep.Close()
		}
		if c.eng != nil {
			_ = c.eng.Close()
		}
		_ = c.st.Close()
	})
}
