package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dockerimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/go-connections/nat"
	"github.com/sirupsen/logrus"

	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/spec"
)

// The corpus of real-world Compose files (internal/spec/testdata/corpus)
// deployed for real: every file berth accepts is deployed with the berth
// CLI, each image replaced by a stand-in built here FROM scratch (no
// public registry answers here), and the engine's inspect data of every
// container is checked against what compose-go read from the file, key
// by key. A file that cannot be stood in for (a digest-pinned image, an
// image this engine already has, ...) is skipped with the reason; the
// summary line counts both.
func TestCorpus_AcceptedFilesDeployWithEveryKey(t *testing.T) {
	eng := requireDocker(t)
	if testing.Short() {
		t.Skip("deploys the corpus on the real engine")
	}
	t.Parallel()
	logrus.SetOutput(io.Discard) // compose-go's warnings; berth's own are checked elsewhere
	ctx := context.Background()
	root, err := filepath.Abs("../spec/testdata/corpus")
	if err != nil {
		t.Fatal(err)
	}
	results, err := spec.LoadCorpus(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t, "./cmd/berth", "berth")
	standin := buildBinary(t, "./internal/e2e/standin", "standin")
	hostRoot := t.TempDir()
	// The host paths the corpus mounts: the engine's socket (which the
	// stand-ins never use), the host's time zone.
	s := startServerWith(t, t.TempDir(), func(c *daemon.Config) {
		c.BindRoots = []string{hostRoot, "/etc/localtime"}
		c.AllowDockerSocket = true
	})
	tok, err := os.ReadFile(filepath.Join(s.dataDir, daemon.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "BERTH_ADDR=http://"+s.addrs.API, "BERTH_TOKEN="+strings.TrimSpace(string(tok)))
	berth := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	var accepted, deployed int
	var skipped []string
	for _, r := range results {
		if !r.Accepted {
			continue
		}
		t.Run(r.Dir, func(t *testing.T) {
			accepted++ // counted when run (-run may pick some)
			c := &corpusCase{t: t, eng: eng, standin: standin, name: corpusAppName(r.Dir)}
			if why := c.prepare(filepath.Join(root, r.Dir)); why != "" {
				skipped = append(skipped, r.Dir+": "+why)
				t.Skip(why)
			}
			t.Cleanup(func() { _, _ = berth("apps", "remove", c.name, "--volumes", "--yes") })
			out, err := berth("deploy", "-f", c.file, "--app", c.name)
			if err != nil && strings.Contains(out, "is above the hard limit the engine itself runs with") {
				// This machine's engine runs with lower limits than the
				// file's; berth says so, and so would docker compose.
				why := "the file's ulimits are above this engine's own hard limit"
				skipped = append(skipped, r.Dir+": "+why)
				t.Skip(why)
			}
			if err != nil {
				t.Fatalf("berth deploy of an accepted file: %v\n%s", err, out)
			}
			deployed++
			c.check(s)
		})
	}
	t.Logf("corpus: %d files, %d accepted, %d deployed and checked, %d skipped", len(results), accepted, deployed, len(skipped))
	for _, s := range skipped {
		t.Logf("  skipped %s", s)
	}
	// Skips are for what a stand-in cannot be, not a way out: most of
	// what berth accepts must have deployed.
	if deployed*4 < accepted*3 {
		t.Errorf("only %d of the %d accepted files were deployed and checked (see the skips above)", deployed, accepted)
	}
}

// corpusCase is one corpus file copied to a directory of its own, with
// stand-ins for its images.
type corpusCase struct {
	t       *testing.T
	eng     *docker.Backend
	standin string // the stand-in binary
	name    string // the app's name
	dir     string // the copy of the file's directory
	file    string
	project *types.Project
}

// prepare copies src, reads it with compose-go, creates what the file
// says exists already (external volumes and networks) and builds the
// stand-in images; it returns why the file cannot be stood in for, or "".
func (c *corpusCase) prepare(src string) string {
	t := c.t
	c.dir = t.TempDir()
	var err error
	if err = os.CopyFS(c.dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	c.file = filepath.Join(c.dir, "compose.yaml")
	environ := types.Mapping{}
	if dot := filepath.Join(c.dir, ".env"); fileExists(dot) {
		if environ, err = dotenv.GetEnvFromFile(map[string]string{}, []string{dot}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  c.dir,
		ConfigFiles: []types.ConfigFile{{Filename: c.file}},
		Environment: environ,
	}, func(o *loader.Options) { o.SetProjectName(c.name, true) })
	if err != nil {
		t.Fatalf("compose-go reads an accepted file: %v", err)
	}
	c.project = p
	if why := c.standable(); why != "" {
		return why
	}
	ctx := context.Background()
	cli := c.eng.Client()
	for _, v := range p.Volumes {
		if bool(v.External) {
			if _, err := cli.VolumeCreate(ctx, volume.CreateOptions{Name: v.Name}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cli.VolumeRemove(context.Background(), v.Name, true) })
		}
	}
	for _, n := range p.Networks {
		if bool(n.External) {
			if _, err := c.eng.EnsureNetwork(ctx, n.Name, nil); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.eng.RemoveNetwork(context.Background(), n.Name) })
		}
	}
	tcp, udp := c.containerPorts()
	byImage := map[string][]types.ServiceConfig{}
	for _, s := range p.Services {
		if s.Build != nil {
			// Services that build one context (often to one tag) share
			// its stand-in Dockerfile: it must serve all their commands.
			var same []types.ServiceConfig
			for _, o := range p.Services {
				if o.Build != nil && o.Build.Context == s.Build.Context && o.Build.Dockerfile == s.Build.Dockerfile {
					same = append(same, o)
				}
			}
			jobs, _ := jobArgs(p, same)
			c.buildContext(s, same, tcp, udp, jobs)
			continue
		}
		byImage[s.Image] = append(byImage[s.Image], s)
	}
	for ref, svcs := range byImage {
		jobs, ok := jobArgs(p, svcs)
		if !ok {
			return fmt.Sprintf("a job and a long-running service of image %s run with the same arguments; one stand-in cannot be both", ref)
		}
		c.buildImage(ref, svcs, tcp, udp, jobs)
	}
	return ""
}

// standable says why the file's images cannot be stood in for here.
func (c *corpusCase) standable() string {
	ctx := context.Background()
	for _, s := range c.project.Services {
		switch {
		case s.Build != nil && strings.Contains(s.Build.Context, "://"):
			return fmt.Sprintf("service %s builds from a remote context %s", s.Name, s.Build.Context)
		case s.Build == nil && strings.Contains(s.Image, "@"):
			return fmt.Sprintf("service %s pins its image by digest (%s): a stand-in cannot have that digest", s.Name, s.Image)
		case s.PullPolicy == types.PullPolicyAlways:
			return fmt.Sprintf("service %s has pull_policy: always, which needs the image's registry", s.Name)
		case s.Runtime != "" && !c.hasRuntime(s.Runtime):
			return fmt.Sprintf("service %s runs with runtime %s, which this engine does not have (berth passes the runtime on; the engine refuses it)", s.Name, s.Runtime)
		case s.Build == nil:
			if ii, err := c.eng.Client().ImageInspect(ctx, s.Image); err == nil && ii.Config != nil && ii.Config.Labels["berth.test.standin"] == "" {
				return fmt.Sprintf("image %s is on this engine already; it is not replaced by a stand-in", s.Image)
			}
		}
		for _, p := range s.Ports {
			if p.Published == "" {
				continue
			}
			for _, port := range publishedPorts(p.Published) {
				if !portFree(p.Protocol, p.HostIP, port) {
					return fmt.Sprintf("service %s publishes %s port %d, which something on this machine holds", s.Name, p.Protocol, port)
				}
			}
		}
	}
	return ""
}

// hasRuntime reports whether the engine has the OCI runtime name.
func (c *corpusCase) hasRuntime(name string) bool {
	info, err := c.eng.Client().Info(context.Background())
	_, ok := info.Runtimes[name]
	return err == nil && ok
}

// jobArgs are the arguments the stand-in gets in the services that
// others wait for with service_completed_successfully: there it exits
// 0 at once (STANDIN_JOBS), as the job would once done. ok is false
// when a job's arguments are also a long-running service's of the same
// image, which the stand-in could not tell apart.
func jobArgs(p *types.Project, svcs []types.ServiceConfig) (jobs []string, ok bool) {
	isJob := map[string]bool{}
	for _, s := range p.Services {
		for name, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionCompletedSuccessfully {
				isJob[name] = true
			}
		}
	}
	args := func(s types.ServiceConfig) string {
		a := slices.Clone([]string(s.Command))
		if len(s.Entrypoint) > 0 {
			a = append(slices.Clone([]string(s.Entrypoint[1:])), a...)
		}
		return strings.Join(a, "\x1f")
	}
	for _, s := range svcs {
		if isJob[s.Name] {
			jobs = append(jobs, args(s))
		}
	}
	for _, s := range svcs {
		if !isJob[s.Name] && slices.Contains(jobs, args(s)) {
			return nil, false
		}
	}
	return jobs, true
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// corpusRun tells this run's apps from those a killed run left on the
// engine: those belong to another berth server, which refuses their
// names to this one.
var corpusRun = func() string {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}()

// corpusAppName is the app a corpus file deploys as: short enough for
// berth's name limit, distinct per file and per run.
func corpusAppName(dir string) string {
	name := "c" + corpusRun + "-" + dir
	if len(name) > 30 {
		sum := sha256.Sum256([]byte(dir))
		name = strings.TrimRight(name[:23], "-") + "-" + hex.EncodeToString(sum[:3])
	}
	return name
}

// publishedPorts expands a published port or range ("8080", "8000-8002").
func publishedPorts(s string) []int {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return nil
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil {
			return nil
		}
	}
	var out []int
	for p := a; p <= b; p++ {
		out = append(out, p)
	}
	return out
}

func portFree(proto, ip string, port int) bool {
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	if proto == "udp" {
		c, err := net.ListenPacket("udp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close()
	}
	return err == nil
}

// containerPorts are every container port the file names (ports,
// expose, x-berth.port), which each stand-in serves.
func (c *corpusCase) containerPorts() (tcp, udp []string) {
	add := func(list *[]string, p string) {
		if p != "" && !slices.Contains(*list, p) {
			*list = append(*list, p)
		}
	}
	for _, s := range c.project.Services {
		for _, p := range s.Ports {
			for _, port := range publishedPorts(strconv.Itoa(int(p.Target))) {
				if p.Protocol == "udp" {
					add(&udp, strconv.Itoa(port))
				} else {
					add(&tcp, strconv.Itoa(port))
				}
			}
		}
		for _, e := range s.Expose {
			port, proto, _ := strings.Cut(e, "/")
			for _, n := range publishedPorts(port) {
				if proto == "udp" {
					add(&udp, strconv.Itoa(n))
				} else {
					add(&tcp, strconv.Itoa(n))
				}
			}
		}
		if xb, ok := s.Extensions["x-berth"].(map[string]any); ok {
			add(&tcp, fmt.Sprint(xb["port"]))
		}
	}
	// And the port berth routes each service on, which it may have read
	// from the file's Traefik labels or VIRTUAL_PORT.
	if app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{c.file}, Name: c.name}); err == nil {
		for _, s := range app.Services {
			if s.Port > 0 {
				add(&tcp, strconv.Itoa(s.Port))
			}
		}
	}
	add(&tcp, "80")
	add(&tcp, "8080")
	slices.Sort(tcp)
	slices.Sort(udp)
	return tcp, udp
}

// execPaths are the paths where svc's file expects programs: its
// entrypoint and its health check's, where the stand-in is copied too.
func execPaths(svcs []types.ServiceConfig) []string {
	var names []string
	for _, s := range svcs {
		if len(s.Entrypoint) > 0 {
			names = append(names, s.Entrypoint[0])
		}
		if h := s.HealthCheck; h != nil && len(h.Test) > 1 {
			switch h.Test[0] {
			case "CMD":
				names = append(names, h.Test[1])
			case "CMD-SHELL":
				names = append(names, "sh")
			}
		}
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, "/") {
			out = append(out, n)
			continue
		}
		for _, dir := range []string{"/bin/", "/usr/bin/", "/usr/local/bin/"} {
			out = append(out, dir+n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// dockerfile is a stand-in's Dockerfile: FROM scratch, the stand-in as
// the entrypoint and at every path in paths, serving tcp and udp.
func dockerfile(target, name string, paths, tcp, udp, jobs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "FROM scratch AS %s\nCOPY .standin /standin\nCOPY .standin-passwd /etc/passwd\nCOPY .standin-group /etc/group\n", target)
	for _, p := range paths {
		fmt.Fprintf(&b, "COPY .standin %s\n", p)
	}
	js, _ := json.Marshal(jobs)
	fmt.Fprintf(&b, "ENV PATH=/usr/local/bin:/usr/bin:/bin STANDIN_NAME=%s STANDIN_TCP=%s STANDIN_UDP=%s STANDIN_JOBS=%s\n",
		name, strings.Join(tcp, ","), strings.Join(udp, ","), base64.StdEncoding.EncodeToString(js))
	fmt.Fprintf(&b, "LABEL berth.test.standin=%s\nENTRYPOINT [\"/standin\"]\n", name)
	return b.String()
}

// accounts are the /etc/passwd and /etc/group of a stand-in: root and
// every user and group name the services run as (user: postgres).
func accounts(svcs []types.ServiceConfig) (passwd, group []byte) {
	var p, g strings.Builder
	p.WriteString("root:x:0:0:root:/:/standin\n")
	g.WriteString("root:x:0:\n")
	seenU, seenG := map[string]bool{"root": true}, map[string]bool{"root": true}
	id := 1000
	for _, s := range svcs {
		u, grp, _ := strings.Cut(s.User, ":")
		for _, n := range []string{u, grp} {
			if _, err := strconv.Atoi(n); n == "" || err == nil || seenU[n] {
				continue
			}
			seenU[n] = true
			id++
			fmt.Fprintf(&p, "%s:x:%d:%d:%s:/:/standin\n", n, id, id, n)
			if !seenG[n] {
				seenG[n] = true
				fmt.Fprintf(&g, "%s:x:%d:\n", n, id)
			}
		}
	}
	return []byte(p.String()), []byte(g.String())
}

// buildContext writes a stand-in Dockerfile into s's build context, for
// berth to build.
func (c *corpusCase) buildContext(s types.ServiceConfig, same []types.ServiceConfig, tcp, udp, jobs []string) {
	t := c.t
	ctxDir := s.Build.Context
	if !filepath.IsAbs(ctxDir) {
		ctxDir = filepath.Join(c.dir, ctxDir)
	}
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	df := cmpOr(s.Build.Dockerfile, "Dockerfile")
	if !filepath.IsAbs(df) {
		df = filepath.Join(ctxDir, df)
	}
	bin, err := os.ReadFile(c.standin)
	if err != nil {
		t.Fatal(err)
	}
	passwd, group := accounts(same)
	for name, data := range map[string][]byte{
		filepath.Join(ctxDir, ".standin"):        bin,
		filepath.Join(ctxDir, ".standin-passwd"): passwd,
		filepath.Join(ctxDir, ".standin-group"):  group,
		filepath.Join(ctxDir, ".dockerignore"):   nil,
		df:                                       []byte(dockerfile(cmpOr(s.Build.Target, "standin"), s.Name, execPaths(same), tcp, udp, jobs)),
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// buildImage builds a stand-in tagged ref for the services svcs.
func (c *corpusCase) buildImage(ref string, svcs []types.ServiceConfig, tcp, udp, jobs []string) {
	t := c.t
	dir := t.TempDir()
	bin, err := os.ReadFile(c.standin)
	if err != nil {
		t.Fatal(err)
	}
	passwd, group := accounts(svcs)
	for name, data := range map[string][]byte{".standin": bin, ".standin-passwd": passwd, ".standin-group": group} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile("standin", ref, execPaths(svcs), tcp, udp, jobs)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "build", "-q", "-t", ref, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build a stand-in for %s: %v\n%s", ref, err, out)
	}
	t.Cleanup(func() {
		_, _ = c.eng.Client().ImageRemove(context.Background(), ref, dockerimage.RemoveOptions{})
	})
}

// check compares every container of the app with the file's services.
func (c *corpusCase) check(s *server) {
	t := c.t
	ctx := context.Background()
	cli := c.eng.Client()
	for _, svc := range c.project.Services {
		replicas := 1
		if svc.Deploy != nil && svc.Deploy.Replicas != nil {
			replicas = *svc.Deploy.Replicas
		}
		cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
			filters.Arg("label", engine.LabelApp+"="+c.name), filters.Arg("label", engine.LabelService+"="+svc.Name))})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != replicas {
			t.Errorf("service %s: %d containers, want %d", svc.Name, len(cs), replicas)
		}
		for _, ct := range cs {
			ci, err := cli.ContainerInspect(ctx, ct.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range inspectMismatches(svc, ci) {
				t.Errorf("service %s, container %s: %s", svc.Name, strings.TrimPrefix(ci.Name, "/"), p)
			}
		}
		for _, p := range svc.Ports {
			if p.Published == "" || p.Protocol == "udp" {
				continue
			}
			ip := p.HostIP
			if ip == "" || ip == "0.0.0.0" || ip == "::" {
				ip = "127.0.0.1"
			}
			if !net.ParseIP(ip).IsLoopback() {
				continue // only loopback is dialled from a test
			}
			for _, port := range publishedPorts(p.Published) {
				if err := dialStandin(net.JoinHostPort(ip, strconv.Itoa(port))); err != nil {
					t.Errorf("service %s: published port %s/%s: %v", svc.Name, p.Published, cmpOr(p.Protocol, "tcp"), err)
				}
			}
		}
	}
}

// dialStandin sends one HTTP request to addr and wants the stand-in's
// answer.
func dialStandin(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
		return err
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(conn)
	if !strings.Contains(buf.String(), "standin for") {
		return fmt.Errorf("answered %q, not the stand-in", buf.String())
	}
	return nil
}

// inspectMismatches lists where container ci differs from what svc's
// file asks of it, for each key berth applies on one host.
func inspectMismatches(svc types.ServiceConfig, ci container.InspectResponse) []string {
	var out []string
	bad := func(key string, got, want any) {
		out = append(out, fmt.Sprintf("%s: the container has %v, the file says %v", key, got, want))
	}
	cfg, hc := ci.Config, ci.HostConfig
	for k, v := range svc.Environment {
		if v != nil && !slices.Contains(cfg.Env, k+"="+*v) {
			bad("environment."+k, "no "+k+"="+*v, *v)
		}
	}
	for k, v := range svc.Labels {
		if cfg.Labels[k] != v {
			bad("labels."+k, cfg.Labels[k], v)
		}
	}
	if len(svc.Entrypoint) > 0 && !slices.Equal(cfg.Entrypoint, []string(svc.Entrypoint)) {
		bad("entrypoint", cfg.Entrypoint, svc.Entrypoint)
	}
	if len(svc.Command) > 0 && !slices.Equal(cfg.Cmd, []string(svc.Command)) {
		bad("command", cfg.Cmd, svc.Command)
	}
	for _, f := range [][3]string{
		{"user", cfg.User, svc.User},
		{"working_dir", cfg.WorkingDir, svc.WorkingDir},
		{"hostname", cfg.Hostname, svc.Hostname},
		{"domainname", cfg.Domainname, svc.DomainName},
		{"stop_signal", cfg.StopSignal, svc.StopSignal},
	} {
		if f[2] != "" && f[1] != f[2] {
			bad(f[0], f[1], f[2])
		}
	}
	if h := svc.HealthCheck; h != nil && !h.Disable && len(h.Test) > 0 {
		if cfg.Healthcheck == nil || !slices.Equal(cfg.Healthcheck.Test, []string(h.Test)) {
			bad("healthcheck.test", cfg.Healthcheck, h.Test)
		}
	}
	for _, c := range svc.CapAdd {
		if !slices.Contains(hc.CapAdd, c) && !slices.Contains(hc.CapAdd, "CAP_"+c) {
			bad("cap_add", hc.CapAdd, svc.CapAdd)
		}
	}
	for _, c := range svc.CapDrop {
		if !slices.Contains(hc.CapDrop, c) && !slices.Contains(hc.CapDrop, "CAP_"+c) {
			bad("cap_drop", hc.CapDrop, svc.CapDrop)
		}
	}
	if svc.ReadOnly != hc.ReadonlyRootfs {
		bad("read_only", hc.ReadonlyRootfs, svc.ReadOnly)
	}
	if svc.Privileged != hc.Privileged {
		bad("privileged", hc.Privileged, svc.Privileged)
	}
	if svc.Init != nil && (hc.Init == nil || *hc.Init != *svc.Init) {
		bad("init", hc.Init, *svc.Init)
	}
	if svc.ShmSize != 0 && hc.ShmSize != int64(svc.ShmSize) {
		bad("shm_size", hc.ShmSize, svc.ShmSize)
	}
	for _, o := range svc.SecurityOpt {
		if !slices.Contains(hc.SecurityOpt, o) {
			bad("security_opt", hc.SecurityOpt, svc.SecurityOpt)
		}
	}
	for k, v := range svc.Sysctls {
		if hc.Sysctls[k] != v {
			bad("sysctls."+k, hc.Sysctls[k], v)
		}
	}
	for _, h := range svc.ExtraHosts.AsList(":") {
		if !slices.Contains(hc.ExtraHosts, h) {
			bad("extra_hosts", hc.ExtraHosts, h)
		}
	}
	if len(svc.DNS) > 0 && !slices.Equal(hc.DNS, []string(svc.DNS)) {
		bad("dns", hc.DNS, svc.DNS)
	}
	for _, tm := range svc.Tmpfs {
		p, opts, _ := strings.Cut(tm, ":")
		if got, ok := hc.Tmpfs[p]; !ok || got != opts {
			bad("tmpfs "+p, hc.Tmpfs, tm)
		}
	}
	for name, u := range svc.Ulimits {
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		if !slices.ContainsFunc(hc.Ulimits, func(l *container.Ulimit) bool { return l.Name == name && l.Soft == soft && l.Hard == hard }) {
			bad("ulimits."+name, hc.Ulimits, u)
		}
	}
	if l := svc.Logging; l != nil && l.Driver != "" && hc.LogConfig.Type != l.Driver {
		bad("logging.driver", hc.LogConfig.Type, l.Driver)
	}
	if l := svc.Logging; l != nil {
		for k, v := range l.Options {
			if hc.LogConfig.Config[k] != v {
				bad("logging.options."+k, hc.LogConfig.Config[k], v)
			}
		}
	}
	if mem := limitMemory(svc); mem != 0 && hc.Memory != mem {
		bad("memory limit", hc.Memory, mem)
	}
	if svc.PidsLimit > 0 && (hc.PidsLimit == nil || *hc.PidsLimit != svc.PidsLimit) {
		bad("pids_limit", hc.PidsLimit, svc.PidsLimit)
	}
	for _, g := range svc.GroupAdd {
		if !slices.Contains(hc.GroupAdd, g) {
			bad("group_add", hc.GroupAdd, svc.GroupAdd)
		}
	}
	if n := svc.ContainerName; n != "" && ci.NetworkSettings != nil && svc.NetworkMode == "" {
		for net, ep := range ci.NetworkSettings.Networks {
			if !slices.Contains(ep.Aliases, n) {
				bad("container_name on network "+net, ep.Aliases, n)
			}
		}
	}
	for _, e := range svc.Expose {
		port, proto, _ := strings.Cut(e, "/")
		if _, ok := cfg.ExposedPorts[nat.Port(port+"/"+cmpOr(proto, "tcp"))]; !ok && !strings.Contains(port, "-") {
			bad("expose "+e, cfg.ExposedPorts, e)
		}
	}
	out = append(out, mountMismatches(svc, ci)...)
	return out
}

// limitMemory is the memory limit the file gives svc.
func limitMemory(svc types.ServiceConfig) int64 {
	if d := svc.Deploy; d != nil && d.Resources.Limits != nil && d.Resources.Limits.MemoryBytes != 0 {
		return int64(d.Resources.Limits.MemoryBytes)
	}
	return int64(svc.MemLimit)
}

// mountMismatches checks that each of svc's volumes is mounted at its
// target, of its type, an external volume by its own name.
func mountMismatches(svc types.ServiceConfig, ci container.InspectResponse) []string {
	var out []string
	for _, v := range svc.Volumes {
		i := slices.IndexFunc(ci.Mounts, func(m container.MountPoint) bool { return m.Destination == v.Target })
		if i < 0 {
			out = append(out, fmt.Sprintf("volumes: nothing is mounted at %s (the file mounts %s %s there)", v.Target, v.Type, v.Source))
			continue
		}
		m := ci.Mounts[i]
		if string(m.Type) != v.Type {
			out = append(out, fmt.Sprintf("volumes: %s is a %s mount, the file says %s", v.Target, m.Type, v.Type))
		}
		if v.ReadOnly && m.RW {
			out = append(out, fmt.Sprintf("volumes: %s is writable, the file says read_only", v.Target))
		}
	}
	return out
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// buildBinary builds the package pkg of this module into a temporary
// directory and returns the binary's path.
func buildBinary(t *testing.T, pkg, name string) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = filepath.Join(filepath.Dir(self), "..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}
