package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/proxy/certs"
)

func newServerCmd() *cobra.Command {
	var cfg daemon.Config
	var logFormat, logLevel, maxBody string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the berth daemon: API, reverse proxy and reconciler",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Engine == "swarm" {
				for _, name := range []string{"network-pool", "network-size"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("--%s is for --engine docker: Swarm's overlay networks get their subnets from the swarm's own pool (docker swarm init --default-addr-pool, 10.0.0.0/8 in /24s unless set)", name)
					}
				}
			}
			var err error
			if cfg.MaxBodyBytes, cfg.BodyTimeout, cfg.WriteTimeout, err = clientLimits(maxBody, cfg.BodyTimeout, cfg.WriteTimeout); err != nil {
				return err
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return err
			}
			opts := &slog.HandlerOptions{Level: lvl}
			var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
			if logFormat == "json" {
				h = slog.NewJSONHandler(os.Stderr, opts)
			}
			cfg.Logger = slog.New(h)
			slog.SetDefault(cfg.Logger)
			// A hand-off starts this binary again by its path (a new
			// build when the file was replaced), with these arguments.
			if exe, err := os.Executable(); err == nil {
				cfg.Successor = &daemon.Command{Path: exe, Args: os.Args[1:]}
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			restart := make(chan struct{})
			go func() {
				for range hup {
					restart <- struct{}{}
				}
			}()
			cfg.Restart = restart
			cfg.Version = Version
			return daemon.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", daemon.DefaultDataDir(), "directory for berth's state and admin token")
	f.StringVar(&cfg.HTTPAddr, "http-addr", ":80", "address of the reverse proxy (HTTP)")
	f.StringVar(&cfg.HTTPSAddr, "https-addr", "", "address of the reverse proxy over TLS (HTTP/2 and HTTP/1.1; needs certificates)")
	f.StringVar(&cfg.CertDir, "cert-dir", "", "directory of NAME.crt + NAME.key certificates, chosen by SNI (reloaded when they change); default.crt/.key is the default")
	f.StringVar(&cfg.DefaultCert, "default-cert", "", "certificate served when SNI matches none")
	f.StringVar(&cfg.DefaultKey, "default-key", "", "key of --default-cert")
	f.BoolVar(&cfg.ACME.Enabled, "acme", true, "with --https-addr: certificates from an ACME CA (Let's Encrypt) for routed hosts that no certificate file covers, cached in DATA_DIR/acme")
	f.StringVar(&cfg.ACME.Email, "acme-email", "", "contact email of the ACME account (the CA's expiry and problem notices)")
	f.StringVar(&cfg.ACME.Directory, "acme-directory", certs.DefaultACMEDirectory, "ACME directory URL (e.g. Let's Encrypt staging, or a private CA)")
	f.StringVar(&cfg.ACME.CARoot, "acme-ca-root", "", "PEM file of CA certificates to trust for the ACME directory's HTTPS (a private or test CA)")
	f.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "proxy: time a client has to send its request headers (against slow clients)")
	f.DurationVar(&cfg.IdleTimeout, "idle-timeout", 120*time.Second, "proxy: how long an idle keep-alive client connection stays open")
	f.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", 64<<10, "proxy: largest request header accepted (bytes; larger: 431)")
	f.StringVar(&maxBody, "max-body-size", "100MB", "proxy: largest request body (413 beyond; 0: no limit) of routes whose x-berth sets no max_body_size")
	f.DurationVar(&cfg.BodyTimeout, "body-timeout", proxy.DefaultBodyTimeout, "proxy: longest wait for the next bytes of a request body (408 after it; 0: none) on routes whose x-berth sets no body_timeout")
	f.DurationVar(&cfg.WriteTimeout, "write-timeout", proxy.DefaultWriteTimeout, "proxy: longest a client may take to accept the next bytes of a response before it is cut (0: none) on routes whose x-berth sets no write_timeout")
	f.StringVar(&cfg.AccessLog, "access-log", "", "proxy access log, one JSON line per request: a file, - for stdout, or off (default DATA_DIR/access.log, rotated at 100 MiB)")
	f.StringVar(&cfg.APIAddr, "api-addr", "127.0.0.1:7070", "address of the API")
	f.StringVar(&cfg.HTTPServer, "http-server", "lean", "server of the plain-HTTP proxy listener: lean (berth's HTTP/1.1 server) or std (net/http)")
	f.IntVar(&cfg.EventLoops, "event-loops", runtime.GOMAXPROCS(0), "with --http-server lean on Linux: event loops (epoll) that hold idle client connections and answer plain proxied requests; 0: a goroutine per connection")
	f.StringVar(&cfg.DockerHost, "docker-host", "", "Docker engine address (default: DOCKER_HOST or the local socket)")
	f.StringVar(&cfg.Engine, "engine", "docker", "docker (one host) or swarm (the engine is a Swarm manager: each service runs as a Swarm service)")
	f.StringVar(&cfg.NetworkPool, "network-pool", docker.DefaultNetworkPool, "IPv4 range that each app environment's network gets a subnet of, one not overlapping the host's networks and routes; docker: the engine's default-address-pools (about 30 networks)")
	f.IntVar(&cfg.NetworkSize, "network-size", docker.DefaultNetworkSize, "prefix length of each app environment's subnet (24: 253 containers; a /16 pool holds 256 such networks, 1024 of 26)")
	f.IntVar(&cfg.KeepReleases, "keep-releases", 10, "releases per app environment whose images are kept for rollback (and failed releases kept in the history)")
	f.StringVar(&cfg.BackupDir, "backup-dir", "", "directory backups of volumes are written to (x-berth.backups.destination: local; default DATA-DIR/backups)")
	f.StringArrayVar(&cfg.BindRoots, "bind-root", nil, "host directory that bind mounts of host paths may be under (repeat for several; default: host paths are refused; paths relative to the Compose file are sent with the deploy)")
	f.BoolVar(&cfg.AllowDockerSocket, "allow-docker-socket", false, "let apps mount the Docker engine's socket (such an app is root on the host)")
	f.StringArrayVar(&cfg.MetricsAllow, "metrics-allow", nil, "network (CIDR) or address whose clients read /metrics without a token, e.g. a Prometheus host (repeat for several; otherwise /metrics needs a viewer token)")
	f.DurationVar(&cfg.AuditRetention, "audit-retention", daemon.DefaultAuditRetention, "how long the audit log keeps its entries (pruned at start and daily)")
	f.DurationVar(&cfg.SessionIdle, "session-idle", daemon.DefaultSessionIdle, "how long a console session lasts without a request")
	f.DurationVar(&cfg.SessionMax, "session-max", daemon.DefaultSessionMax, "how long a console session lasts at most after its sign-in")
	f.StringVar(&cfg.AuditLog, "audit-log", "", "file that gets each audit entry as a line of JSON too, for shipping to a log system (default: none)")
	f.DurationVar(&cfg.HandoffTimeout, "handoff-timeout", daemon.DefaultHandoffTimeout, "a restart (SIGHUP, berth server restart): longest wait for deployments, drains and builds to end, and for the new process to be ready; the old one serves on when it passes")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cmd.AddCommand(newServerRestartCmd(), newServerInfoCmd())
	return cmd
}

// clientLimits reads the --max-body-size, --body-timeout and
// --write-timeout values into daemon.Config's form, where 0 is the
// proxy's default and negative none: the user's 0, none, becomes -1.
func clientLimits(maxBody string, body, write time.Duration) (int64, time.Duration, time.Duration, error) {
	n, err := units.RAMInBytes(strings.TrimSpace(maxBody))
	if err != nil || n < 0 {
		return 0, 0, 0, fmt.Errorf("--max-body-size %q: want a size such as 100MB or 1GB, or 0 for no limit", maxBody)
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--body-timeout", body}, {"--write-timeout", write}} {
		if d.v < 0 {
			return 0, 0, 0, fmt.Errorf("%s %s: want a duration such as 60s, or 0 for none", d.flag, d.v)
		}
	}
	none := func(v int64) int64 {
		if v == 0 {
			return -1
		}
		return v
	}
	return none(n), time.Duration(none(int64(body))), time.Duration(none(int64(write))), nil
}
