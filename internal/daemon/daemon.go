package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/proxy/certs"
	"github.com/berth-dev/berth/internal/proxy/l4"
)

// Config is the server's configuration.
type Config struct {
	DataDir   string
	HTTPAddr  string
	HTTPSAddr string
	APIAddr   string
	// DockerHost overrides DOCKER_HOST when set.
	DockerHost string
	// Engine is "docker" (one host, the default) or "swarm" (the engine
	// is a Swarm manager; each service runs as a Swarm service).
	Engine string
	// NetworkPool is the IPv4 range that app environments' networks get
	// their subnets from, NetworkSize the prefix length of each subnet
	// (zero: docker.DefaultNetworkPool in docker.DefaultNetworkSize
	// subnets); "docker" leaves the subnets to the engine's own
	// default-address-pools. Only for the docker engine: Swarm's overlay
	// networks get theirs from the swarm's pool.
	NetworkPool string
	NetworkSize int
	// BindRoot is the host directory bind mounts must be under (empty:
	// no bind mounts).
	BindRoot string
	// Bind mounts (deploy/binds.go): BindRoots are more directories host
	// paths may be mounted from (--bind-root, repeatable);
	// AllowDockerSocket lets apps mount the engine's socket. Project
	// files that deploys send are kept under DataDir/binds.
	BindRoots         []string
	AllowDockerSocket bool
	// Backups of volumes (deploy/backup.go): BackupDir is the local
	// destination (empty: DataDir/backups); HelperBinary is the
	// statically linked berth binary the helper image is built from
	// (empty: this process's own executable).
	BackupDir    string
	HelperBinary string
	// BackupStageHook is a test hook, nil in use: it wraps the stream a
	// restore stages (deploy.BackupOptions.StageHook).
	BackupStageHook func(io.Reader) io.Reader
	// KeepReleases is how many releases per app environment keep their
	// images for rollback (default 10).
	KeepReleases int
	// CertDir, DefaultCert and DefaultKey are the certificates served on
	// HTTPSAddr (see certs.Options).
	CertDir, DefaultCert, DefaultKey string
	// ACME gets certificates from an ACME CA for the routed hosts that
	// no certificate file covers (with HTTPSAddr only).
	ACME ACMEConfig
	// ReadHeaderTimeout, IdleTimeout and MaxHeaderBytes bound the proxy's
	// client connections (zero: 10s, 120s, 64 KiB).
	ReadHeaderTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                 int
	// MaxBodyBytes, BodyTimeout and WriteTimeout bound the clients of
	// routes whose x-berth sets no limit of its own (proxy.Options):
	// zero is the proxy's default (100 MiB, 60s, 60s), negative none.
	MaxBodyBytes              int64
	BodyTimeout, WriteTimeout time.Duration
	// HTTPServer is the server of the plain-HTTP listener: "lean"
	// (proxy.Server, the default) or "std" (net/http).
	HTTPServer string
	// EventLoops is how many event loops the lean server runs
	// (proxy.ServerOptions.EventLoops; 0: none).
	EventLoops int
	// AccessLog is where the proxy writes a JSON line per request: a
	// file, "-" for stdout, "off"; empty: DataDir/access.log.
	AccessLog string
	// MetricsAllow are the networks (CIDR, or one address) whose
	// clients read /metrics without a token (--metrics-allow), for a
	// Prometheus that scrapes without one.
	MetricsAllow []string
	// AuditRetention is how long audit entries are kept (0: a year);
	// AuditLog, when set, is a file that gets each entry as a JSON line.
	AuditRetention time.Duration
	AuditLog       string
	// SessionIdle and SessionMax are how long a console session lasts
	// without a request and at most (0: 12h and 7 days).
	SessionIdle, SessionMax time.Duration
	Logger                  *slog.Logger
	// Ready, when set, is called once the routes are restored and the
	// listeners serve.
	Ready func(Addrs)
	// Successor is the command a hand-off starts (nil: the server
	// cannot hand off); Restart asks for a hand-off (SIGHUP), as POST
	// /api/v1/server/restart does; HandoffTimeout bounds its waits (0:
	// DefaultHandoffTimeout).
	Successor      *Command
	Restart        <-chan struct{}
	HandoffTimeout time.Duration
	// Version is the server's build, as GET /api/v1/server tells it.
	Version string
}

// Command is a program and its arguments.
type Command struct {
	Path string
	Args []string
}

// ACMEConfig configures ACME (see certs.ACMEOptions); certificates are
// cached in DataDir/acme.
type ACMEConfig struct {
	Enabled bool
	// Email is the account's contact; Directory the CA's ACME directory
	// (default Let's Encrypt's production); CARoot a PEM file of CA
	// certificates trusted for the directory's HTTPS.
	Email, Directory, CARoot string
}

// Addrs are the addresses the daemon listens on.
type Addrs struct {
	HTTP, HTTPS, API string
}

// TokenFile is the admin token's file name in the data dir.
const TokenFile = "admin-token"

// DefaultDataDir is where the server keeps its state unless told
// otherwise: $BERTH_DATA_DIR, else /var/lib/berth for root, else
// $XDG_DATA_HOME/berth (~/.local/share/berth).
func DefaultDataDir() string {
	if d := os.Getenv("BERTH_DATA_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/berth"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "berth")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "berth")
}

// Run runs the server until ctx ends, or until it handed off to a
// successor (handoff.go).
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 120 * time.Second
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 64 << 10
	}
	if cfg.HandoffTimeout <= 0 {
		cfg.HandoffTimeout = DefaultHandoffTimeout
	}
	if err := checkHTTPServer(cfg.HTTPServer); err != nil {
		return err
	}
	if cfg.EventLoops < 0 {
		return fmt.Errorf("--event-loops %d: want 0 (a goroutine per connection) or more", cfg.EventLoops)
	}
	if cfg.Engine != "swarm" {
		if _, err := dockerOptions(cfg); err != nil {
			return err
		}
	}
	var certStore *certs.Store
	if cfg.HTTPSAddr != "" {
		if cfg.DefaultCert != "" && cfg.DefaultKey == "" || cfg.DefaultKey != "" && cfg.DefaultCert == "" {
			return errors.New("--default-cert and --default-key go together: give both")
		}
		var err error
		if certStore, err = certs.New(certs.Options{Dir: cfg.CertDir, DefaultCert: cfg.DefaultCert, DefaultKey: cfg.DefaultKey, Logger: log}); err != nil {
			return fmt.Errorf("--https-addr: certificates (--cert-dir DIR with NAME.crt/NAME.key files, --default-cert/--default-key, or x-berth.tls of the apps): %w", err)
		}
		if cfg.CertDir == "" && cfg.DefaultCert == "" && !cfg.ACME.Enabled {
			log.Warn("--https-addr without --cert-dir or --default-cert: only hosts of services with x-berth.tls get TLS")
		}
	}
	metricsAllow, err := parseAllow(cfg.MetricsAllow)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	token, err := ensureToken(cfg.DataDir)
	if err != nil {
		return err
	}

	// The sockets first (inherited from a predecessor or systemd, else
	// new): clients wait in their backlogs until the routes are restored.
	socks, err := openSockets(cfg, certStore != nil)
	if err != nil {
		return err
	}
	defer socks.close()

	auditFile, err := openAuditLog(cfg.AuditLog)
	if err != nil {
		return err
	}
	if auditFile != nil {
		defer auditFile.Close()
	}
	alog, err := openAccessLog(cfg, log)
	if err != nil {
		return err
	}
	if alog != nil {
		defer alog.Close() // after the servers stopped: the last lines are written
	}
	px := proxy.New(proxy.Options{Logger: log, Certs: proxyCerts(certStore), AccessLog: alog,
		MaxBodyBytes: cfg.MaxBodyBytes, BodyTimeout: cfg.BodyTimeout, WriteTimeout: cfg.WriteTimeout})
	var acm *certs.ACME
	if certStore != nil && cfg.ACME.Enabled {
		if acm, err = certStore.EnableACME(certs.ACMEOptions{DirectoryURL: cfg.ACME.Directory, Email: cfg.ACME.Email,
			CARootFile: cfg.ACME.CARoot, CacheDir: filepath.Join(cfg.DataDir, "acme"), Logger: log}); err != nil {
			return fmt.Errorf("--acme: %w", err)
		}
	}
	ports := l4.NewSet() // the listeners of published ports (Compose ports:)
	defer ports.Close()

	ho := newHandoffs(cfg)
	fr := front{px: px, ports: ports, token: token, apiURL: "http://" + socks.api.Addr().String(),
		metricsNet: metricsAllow, auditLog: auditFile, restart: ho.request, handoffErr: ho.lastError}
	cur, err := openCore(ctx, cfg, fr, log)
	if err != nil {
		return err
	}
	defer func() {
		if cur != nil {
			cur.close()
		}
	}()
	apiH := &apiHandler{}
	apiH.set(cur.api)

	var proxyHandler http.Handler = px
	if acm != nil {
		proxyHandler = acm.HTTPHandler(px) // http-01 challenges before the routes
	}
	proxySrv := &http.Server{
		Handler:           proxyHandler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    stdMaxHeaderBytes(cfg.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	plainSrv := newPlainServer(cfg.HTTPServer, cfg.EventLoops, cfg.MaxHeaderBytes, proxySrv, px, log)
	apiSrv := &http.Server{Handler: apiH, ReadHeaderTimeout: 10 * time.Second}
	log.Info("berth server ready", "http_addr", socks.http.Addr().String(), "api_addr", socks.api.Addr().String(), "data_dir", cfg.DataDir, "pid", os.Getpid())
	addrs := Addrs{HTTP: socks.http.Addr().String(), API: socks.api.Addr().String()}
	var httpsSrv *http.Server
	if socks.https != nil {
		addrs.HTTPS = socks.https.Addr().String()
		// HTTP/2 is negotiated by ALPN (h2, http/1.1): net/http serves it.
		httpsSrv = &http.Server{
			Handler:           px,
			TLSConfig:         certStore.TLSConfig(),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			// Not stdMaxHeaderBytes: HTTP/2, what most clients speak
			// over TLS, takes this as its header list limit with 320
			// bytes of padding, not 4096; lowered, it would refuse
			// heads under the limit. HTTP/1.1 over TLS gets 4 KiB more.
			MaxHeaderBytes: cfg.MaxHeaderBytes,
			ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
		log.Info("https listener", "https_addr", addrs.HTTPS)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return servePlain(plainSrv, socks.http) })
	g.Go(func() error { return serve(apiSrv, socks.apiGated) })
	if httpsSrv != nil {
		g.Go(func() error {
			if err := httpsSrv.ServeTLS(socks.https, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		g.Go(func() error { certStore.Run(gctx, 5*time.Second); return nil })
		if acm != nil {
			g.Go(func() error { acm.Run(gctx); return nil })
		}
	}
	if cfg.Ready != nil {
		cfg.Ready(addrs)
	}
	notifyReady(log)

	// The core's loops, and hand-offs, until the server stops.
	var handedOff atomic.Bool
	g.Go(func() error {
		for {
			coreDone := make(chan error, 1)
			c := cur
			go func() { coreDone <- c.wait() }()
			select {
			case <-gctx.Done():
				return nil
			case err := <-coreDone:
				if err != nil {
					return err
				}
				<-gctx.Done()
				return nil
			case <-ho.requests:
			}
			next, done, err := ho.run(gctx, handoffState{cfg: cfg, fr: fr, core: c, api: apiH, apiSrv: apiSrv,
				gate: socks.gate, socks: socks.list(), log: log})
			cur = next
			switch {
			case done:
				handedOff.Store(true)
				return errHandedOff
			case next == nil:
				return err
			case err != nil:
				ho.failed(err)
				log.Error("hand-off failed: this server goes on serving", "error", err)
			}
		}
	})
	g.Go(func() error {
		<-gctx.Done()
		timeout := 10 * time.Second
		if handedOff.Load() {
			// The successor serves: this process only finishes what it
			// has, long connections up to the longest drain.
			timeout = longestDrain(px, 10*time.Second) + 5*time.Second
		}
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_ = apiSrv.Shutdown(sctx)
		if gentle, ok := plainSrv.(interface {
			ShutdownAfter(context.Context, time.Duration) error
		}); ok && handedOff.Load() {
			// Kept-alive clients get their next answer with
			// Connection: close and reconnect to the successor.
			_ = gentle.ShutdownAfter(sctx, idleCloseGrace)
		} else {
			_ = plainSrv.Shutdown(sctx)
		}
		if httpsSrv != nil {
			_ = httpsSrv.Shutdown(sctx)
		}
		// The pools swapped out by deploys finish their requests (the
		// servers no longer take new ones) until the shutdown deadline,
		// then are cut; the old containers they leave are removed by
		// converge at the next start.
		px.ShutdownDrains(sctx)
		if handedOff.Load() {
			// WebSockets and streams (not the servers' any more) end by
			// themselves or at the deadline.
			drainRoutes(sctx, px)
		}
		// Stop health checks; the containers themselves keep running.
		for _, r := range px.Routes() {
			if p := px.RemoveRoute(r.Key); p != nil {
				p.Close()
			}
		}
		if handedOff.Load() {
			log.Info("berth server handed off and stopped; the new process serves")
		} else {
			log.Info("berth server stopped; app containers keep running")
		}
		return nil
	})
	if err := g.Wait(); err != nil && !errors.Is(err, errHandedOff) {
		return err
	}
	return nil
}

func serve(s *http.Server, ln net.Listener) error {
	if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// parseAllow reads --metrics-allow: CIDRs, or addresses (one host).
func parseAllow(nets []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, n := range nets {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			a, aerr := netip.ParseAddr(n)
			if aerr != nil {
				return nil, fmt.Errorf("--metrics-allow %q: give a network such as 10.0.0.0/8 or an address such as 192.0.2.7", n)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ensureToken reads the admin token, creating it (mode 0600) on first start.
func ensureToken(dir string) (string, error) {
	p := filepath.Join(dir, TokenFile)
	if b, err := os.ReadFile(p); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	t := hex.EncodeToString(b[:])
	if err := os.WriteFile(p, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	return t, nil
}

// ServerIDFile is the server id's file in the data dir: the id labels
// everything the server makes on the engine (engine.LabelServer).
const ServerIDFile = "server-id"

// ensureServerID reads the server's id, creating it on first start.
func ensureServerID(dir string) (string, error) {
	p := filepath.Join(dir, ServerIDFile)
	if b, err := os.ReadFile(p); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read server id: %w", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	if err := os.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write server id: %w", err)
	}
	return id, nil
}

// engineSocket is the local socket of the engine the server talks to
// (--docker-host, else DOCKER_HOST), "" when it is not a local socket:
// apps may not mount it unless the server allows them.
func engineSocket(host string) string {
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	return deploy.EngineSocketPath(host)
}

// backupDir is the local backup destination: cfg's, else an absolute
// DataDir/backups.
func backupDir(cfg Config) string {
	if cfg.BackupDir != "" {
		if abs, err := filepath.Abs(cfg.BackupDir); err == nil {
			return abs
		}
		return cfg.BackupDir
	}
	return filepath.Join(filepath.Dir(bindsDir(cfg.DataDir)), "backups")
}

// helperBinary is the binary berth's helper image is built from.
func helperBinary(cfg Config) string {
	if cfg.HelperBinary != "" {
		return cfg.HelperBinary
	}
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	return self
}

// bindsDir is where the copies of project files are kept: an absolute
// path, as the engine mounts them.
func bindsDir(dataDir string) string {
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	return filepath.Join(dataDir, "binds")
}

// proxyAddrs are the addresses berth's own HTTP(S) proxy listens on.
func proxyAddrs(cfg Config) []string {
	var out []string
	for _, a := range []string{cfg.HTTPAddr, cfg.HTTPSAddr} {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}
