package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	clitypes "github.com/docker/cli/cli/config/types"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"
	fstypes "github.com/tonistiigi/fsutil/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/berth-dev/berth/internal/engine"
)

// BuildImage builds with the engine's BuildKit, as `docker buildx` does
// with its docker driver: berth runs the Dockerfile frontend itself (a
// current one, so heredocs, RUN --mount and the rest work on an engine
// whose built-in frontend is older) and the engine's BuildKit solves the
// LLB it compiles and exports the image into the engine's image store.
// Only an engine that serves no BuildKit gets the classic builder, and
// the log says so.
func (b *Backend) BuildImage(ctx context.Context, buildContext io.Reader, o engine.BuildOptions, log func(string)) (string, error) {
	if log == nil {
		log = func(string) {}
	}
	c, err := b.buildkit(ctx)
	if errors.Is(err, errNoBuildKit) {
		if unsupported := legacyRefuses(o); unsupported != "" {
			return "", fmt.Errorf("%s: build image: the engine serves no BuildKit (%v), and the classic builder cannot apply %s: upgrade the engine to 18.09 or later with BuildKit, or remove it", b.name, err, unsupported)
		}
		log("the engine serves no BuildKit (" + err.Error() + "): building with its classic builder, which knows no heredocs, RUN --mount or # syntax=")
		return b.buildLegacy(ctx, buildContext, o, log)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	return b.buildWithBuildKit(ctx, c, buildContext, o, log)
}

// errNoBuildKit marks an engine that does not serve BuildKit's API.
var errNoBuildKit = errors.New("no BuildKit")

// buildkit connects to the engine's BuildKit: its control API on /grpc
// and client sessions on /session, both hijacked from the Engine API
// connection (HTTP/2 without TLS on /grpc).
func (b *Backend) buildkit(ctx context.Context) (*bkclient.Client, error) {
	c, err := bkclient.New(ctx, "",
		bkclient.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return b.cli.DialHijack(ctx, "/grpc", "h2c", nil)
		}),
		bkclient.WithSessionDialer(func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
			return b.cli.DialHijack(ctx, "/session", proto, meta)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: connect to BuildKit: %w", b.name, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := c.ListWorkers(pctx); err != nil {
		c.Close()
		if s, ok := status.FromError(err); ok && (s.Code() == codes.Unimplemented || s.Code() == codes.Unavailable) && ctx.Err() == nil {
			return nil, fmt.Errorf("%w: %s", errNoBuildKit, s.Message())
		}
		return nil, fmt.Errorf("%s: connect to BuildKit: %w", b.name, err)
	}
	return c, nil
}

// legacyRefuses names the first option the classic builder cannot apply.
func legacyRefuses(o engine.BuildOptions) string {
	switch {
	case o.DockerfileInline != "":
		return "build.dockerfile_inline"
	case len(o.Secrets) > 0:
		return "build.secrets"
	case o.Network != "":
		return "build.network"
	case len(o.ExtraHosts) > 0:
		return "build.extra_hosts"
	case o.Pull:
		return "build.pull"
	}
	return ""
}

// buildWithBuildKit runs one build on c.
func (b *Backend) buildWithBuildKit(ctx context.Context, c *bkclient.Client, buildContext io.Reader, o engine.BuildOptions, log func(string)) (string, error) {
	dir, err := os.MkdirTemp("", "berth-build-")
	if err != nil {
		return "", fmt.Errorf("%s: build image: %w", b.name, err)
	}
	defer os.RemoveAll(dir)
	ctxDir, dfDir := filepath.Join(dir, "context"), filepath.Join(dir, "dockerfile")
	if err := extractContext(buildContext, ctxDir); err != nil {
		return "", fmt.Errorf("%s: build image: read the build context: %w", b.name, err)
	}
	dockerfile, err := dockerfileFor(ctxDir, dfDir, o, func(df []byte) ([]byte, error) { return b.nameImageIDs(ctx, df) })
	if err != nil {
		return "", fmt.Errorf("%s: build image: %w", b.name, err)
	}
	o.Labels = b.imageLabels(o.Labels)
	attrs, err := frontendAttrs(o, dockerfile)
	if err != nil {
		return "", fmt.Errorf("%s: build image: %w", b.name, err)
	}
	contextFS, err := rootOwnedFS(ctxDir)
	if err != nil {
		return "", fmt.Errorf("%s: build image: %w", b.name, err)
	}
	dockerfileFS, err := rootOwnedFS(dfDir)
	if err != nil {
		return "", fmt.Errorf("%s: build image: %w", b.name, err)
	}
	exportAttrs := map[string]string{}
	if len(o.Tags) > 0 {
		exportAttrs["name"] = strings.Join(o.Tags, ",")
	}
	opt := bkclient.SolveOpt{
		Exports:       []bkclient.ExportEntry{{Type: "moby", Attrs: exportAttrs}},
		LocalMounts:   map[string]fsutil.FS{"context": contextFS, "dockerfile": dockerfileFS},
		FrontendAttrs: attrs,
		Session:       []session.Attachable{secretsprovider.FromMap(o.Secrets), registryAuth(o.Credentials)},
	}
	if o.Network == "host" {
		opt.AllowedEntitlements = []string{"network.host"}
	}

	ch, display := make(chan *bkclient.SolveStatus), make(chan *bkclient.SolveStatus)
	out := &lineWriter{log: log}
	loc := &locator{}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(display)
		for st := range ch {
			loc.status(st)
			display <- st
		}
	}()
	go func() {
		defer wg.Done()
		// The plain display prints what `docker buildx --progress=plain`
		// prints; it returns when display is closed, after Build closed ch.
		d, err := progressui.NewDisplay(out, progressui.PlainMode)
		if err != nil {
			for range display {
			}
			return
		}
		_, _ = d.UpdateFrom(context.WithoutCancel(ctx), display)
	}()
	resp, err := c.Build(ctx, opt, "berth", loc.build, ch)
	wg.Wait()
	out.flush()
	if err != nil {
		return "", fmt.Errorf("%s: build failed: %s%s", b.name, loc.describe(err, ctx), indentTail(out.tail))
	}
	id := resp.ExporterResponse["containerimage.digest"]
	if id == "" && len(o.Tags) > 0 {
		img, err := b.InspectImage(ctx, o.Tags[0])
		if err != nil {
			return "", fmt.Errorf("%s: build image: the build reported no image: %w", b.name, err)
		}
		id = img.ID
	}
	if id == "" {
		return "", fmt.Errorf("%s: build image: the build reported no image ID", b.name)
	}
	return id, nil
}

// frontendAttrs are the Dockerfile frontend's options for o.
func frontendAttrs(o engine.BuildOptions, dockerfile string) (map[string]string, error) {
	// cmdline set tells the frontend not to forward to a # syntax=
	// image: dockerfileFor has refused every image but the one berth's
	// own frontend stands for.
	attrs := map[string]string{"filename": dockerfile, "cmdline": "berth"}
	if o.Target != "" {
		attrs["target"] = o.Target
	}
	for k, v := range o.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	for k, v := range o.Labels {
		attrs["label:"+k] = v
	}
	if o.CacheScope != "" {
		attrs["build-arg:BUILDKIT_CACHE_MOUNT_NS"] = CacheNamespace(o.CacheScope)
	}
	if o.NoCache {
		attrs["no-cache"] = ""
	}
	if o.Pull {
		attrs["image-resolve-mode"] = "pull"
	}
	switch o.Network {
	case "", "default":
	case "host", "none":
		attrs["force-network-mode"] = o.Network
	default:
		return nil, fmt.Errorf("build network %q: BuildKit runs build steps on the default network, the host's (host) or none; use one of those", o.Network)
	}
	if len(o.ExtraHosts) > 0 {
		hosts := append([]string(nil), o.ExtraHosts...)
		sort.Strings(hosts)
		attrs["add-hosts"] = strings.Join(hosts, ",")
	}
	return attrs, nil
}

// CacheNamespace is the namespace of an app's RUN --mount=type=cache
// ids, so that two apps never share a cache mount.
func CacheNamespace(app string) string { return "berth-app-" + app }

// rootOwnedFS serves dir to the build with every file owned by root, as
// the classic builder's tar context had it.
func rootOwnedFS(dir string) (fsutil.FS, error) {
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		return nil, err
	}
	return fsutil.NewFilterFS(fs, &fsutil.FilterOpt{Map: func(_ string, st *fstypes.Stat) fsutil.MapResult {
		st.Uid, st.Gid = 0, 0
		return fsutil.MapResultKeep
	}})
}

// lineWriter turns the display's output into log lines and keeps the
// last ones for a failure's message.
type lineWriter struct {
	log  func(string)
	buf  []byte
	tail []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.line(string(w.buf))
		w.buf = nil
	}
}

func (w *lineWriter) line(l string) {
	l = strings.TrimRight(l, "\r")
	if strings.TrimSpace(l) == "" {
		return
	}
	w.log(l)
	w.tail = append(w.tail, l)
	if len(w.tail) > 10 {
		w.tail = w.tail[1:]
	}
}

// registryAuth answers the engine's requests for registry credentials
// while it pulls the build's base images, from berth's stored ones.
func registryAuth(lookup engine.CredentialLookup) session.Attachable {
	return authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: func(_ context.Context, host string, _ []string, _ authprovider.ExpireCachedAuthCheck) (clitypes.AuthConfig, error) {
			if lookup == nil {
				return clitypes.AuthConfig{}, nil
			}
			server := host
			if server == "registry-1.docker.io" || server == "index.docker.io" {
				server = "docker.io"
			}
			user, pass, err := lookup(server)
			if err != nil || user == "" {
				return clitypes.AuthConfig{}, nil // anonymous: the registry says what it refuses
			}
			return clitypes.AuthConfig{ServerAddress: host, Username: user, Password: pass}, nil
		},
	})
}
