package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/spec"
)

// containerKeysApp is an app whose web service sets every per-container
// Compose key berth applies on one host (privileged aside: this machine's
// engine cannot start privileged containers; hostconfig_test.go covers
// it); data shares its volume through volumes_from.
func containerKeysApp(t *testing.T, name, host, root, extra string) *spec.App {
	t.Helper()
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %[1]s
services:
  data:
    image: %[2]s
    volumes: ["/shared", "%[6]s:/etc/app:ro,z"]
    tty: true
    stdin_open: true
  web:
    image: %[2]s
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    tmpfs: ["/run:size=1m"]
    ulimits:
      nofile: { soft: 1024, hard: 2048 }
    shm_size: 64m
    read_only: true
    security_opt: ["no-new-privileges:true"]
    extra_hosts: ["db.internal=10.0.0.5"]
    hostname: web1
    domainname: example.internal
    logging:
      driver: json-file
      options: { max-size: 1m, max-file: "2" }
    init: true
    sysctls: { net.core.somaxconn: "1024" }
    dns: [10.0.0.2]
    dns_search: [example.internal]
    dns_opt: ["ndots:2"]
    devices: ["/dev/null:/dev/xnull"]
    group_add: ["2000"]
    pids_limit: 200
    oom_score_adj: 100
    mem_reservation: 32m
    mem_limit: 256m
    memswap_limit: 512m
    cpus: 0.5
    cpu_shares: 512
    cpuset: "0"
    platform: linux/%[4]s
    runtime: runc
    restart: on-failure:3
    pull_policy: never
    stop_signal: SIGINT
    volumes_from: ["data:ro"]
    volumes:
      - type: tmpfs
        target: /scratch
        tmpfs: { size: 1m, mode: 0o700 }
%[5]s    x-berth: { port: 8080, hosts: [%[3]s], healthcheck: { path: /up, interval: 200ms } }
`, name, image(t).Ref, host, runtime.GOARCH, extra, root))
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	if len(app.Warnings) > 0 {
		t.Errorf("keys berth applies are warned about: %q", app.Warnings)
	}
	return app
}

// inspectService returns the engine's inspect data of the one container
// of service in app's release.
func inspectService(t *testing.T, eng *docker.Backend, app, release, service string) container.InspectResponse {
	t.Helper()
	ctx := context.Background()
	cs, err := eng.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelRelease: release, engine.LabelService: service})
	if err != nil || len(cs) != 1 {
		t.Fatalf("containers of %s in release %s: %+v %v", service, release, cs, err)
	}
	ci, err := eng.Client().ContainerInspect(ctx, cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return ci
}

// Every per-container key of the file reaches the container, as docker
// compose would create it; what the app sees inside agrees.
func TestContainerKeys_ReachTheContainer(t *testing.T) {
	eng := requireDocker(t)
	root := t.TempDir()
	s := startServerWith(t, t.TempDir(), func(c *daemon.Config) { c.BindRoots = []string{root} })
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, containerKeysApp(t, name, host, root, "")); err != nil {
		t.Fatal(err)
	}
	ci := inspectService(t, eng, name, "1", "web")
	data := inspectService(t, eng, name, "1", "data")
	hc, cfg := ci.HostConfig, ci.Config
	check := func(what string, ok bool, got any) {
		t.Helper()
		if !ok {
			t.Errorf("%s: got %+v", what, got)
		}
	}
	hasCap := func(caps []string, c string) bool {
		return slices.Contains(caps, c) || slices.Contains(caps, "CAP_"+c)
	}
	check("cap_add", hasCap(hc.CapAdd, "NET_ADMIN"), hc.CapAdd)
	check("cap_drop", hasCap(hc.CapDrop, "MKNOD"), hc.CapDrop)
	check("tmpfs", hc.Tmpfs["/run"] == "size=1m", hc.Tmpfs)
	check("ulimits", len(hc.Ulimits) == 1 && hc.Ulimits[0].Name == "nofile" && hc.Ulimits[0].Soft == 1024 && hc.Ulimits[0].Hard == 2048, hc.Ulimits)
	check("shm_size", hc.ShmSize == 64<<20, hc.ShmSize)
	check("read_only", hc.ReadonlyRootfs, hc.ReadonlyRootfs)
	check("security_opt", slices.Contains(hc.SecurityOpt, "no-new-privileges:true"), hc.SecurityOpt)
	check("extra_hosts", slices.Equal(hc.ExtraHosts, []string{"db.internal:10.0.0.5"}), hc.ExtraHosts)
	check("hostname", cfg.Hostname == "web1", cfg.Hostname)
	check("domainname", cfg.Domainname == "example.internal", cfg.Domainname)
	check("logging", hc.LogConfig.Type == "json-file" && hc.LogConfig.Config["max-size"] == "1m" && hc.LogConfig.Config["max-file"] == "2", hc.LogConfig)
	check("default logging (data)", data.HostConfig.LogConfig.Type == "json-file" && data.HostConfig.LogConfig.Config["max-size"] == "10m" && data.HostConfig.LogConfig.Config["max-file"] == "3", data.HostConfig.LogConfig)
	check("init", hc.Init != nil && *hc.Init, hc.Init)
	check("sysctls", hc.Sysctls["net.core.somaxconn"] == "1024", hc.Sysctls)
	check("dns", slices.Equal(hc.DNS, []string{"10.0.0.2"}), hc.DNS)
	check("dns_search", slices.Equal(hc.DNSSearch, []string{"example.internal"}), hc.DNSSearch)
	check("dns_opt", slices.Equal(hc.DNSOptions, []string{"ndots:2"}), hc.DNSOptions)
	check("devices", len(hc.Devices) == 1 && hc.Devices[0].PathOnHost == "/dev/null" && hc.Devices[0].PathInContainer == "/dev/xnull" && hc.Devices[0].CgroupPermissions == "rwm", hc.Devices)
	check("group_add", slices.Equal(hc.GroupAdd, []string{"2000"}), hc.GroupAdd)
	check("pids_limit", hc.PidsLimit != nil && *hc.PidsLimit == 200, hc.PidsLimit)
	check("oom_score_adj", hc.OomScoreAdj == 100, hc.OomScoreAdj)
	check("mem_reservation", hc.MemoryReservation == 32<<20, hc.MemoryReservation)
	check("mem_limit", hc.Memory == 256<<20, hc.Memory)
	check("memswap_limit", hc.MemorySwap == 512<<20, hc.MemorySwap)
	check("cpus", hc.NanoCPUs == 5e8, hc.NanoCPUs)
	check("cpu_shares", hc.CPUShares == 512, hc.CPUShares)
	check("cpuset", hc.CpusetCpus == "0", hc.CpusetCpus)
	check("runtime", hc.Runtime == "runc", hc.Runtime)
	check("stop_signal", cfg.StopSignal == "SIGINT", cfg.StopSignal)
	check("volumes_from", len(hc.VolumesFrom) == 1 && hc.VolumesFrom[0] == strings.TrimPrefix(data.Name, "/")+":ro", hc.VolumesFrom)
	var tmpfs bool
	for _, m := range hc.Mounts {
		if m.Type == "tmpfs" && m.Target == "/scratch" && m.TmpfsOptions != nil {
			tmpfs = m.TmpfsOptions.SizeBytes == 1<<20 && m.TmpfsOptions.Mode == os.FileMode(0o700)
		}
	}
	check("long-form tmpfs", tmpfs, hc.Mounts)
	var shared bool
	for _, m := range ci.Mounts {
		shared = shared || m.Destination == "/shared" && !m.RW
	}
	check("volumes_from mounts data's volume read-only", shared, ci.Mounts)
	// Restart policies are set once the release is live (berth's
	// blue-green switch must not have a failing new container restart).
	deadline := time.Now().Add(10 * time.Second)
	for ci.HostConfig.RestartPolicy.Name != "on-failure" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		ci = inspectService(t, eng, name, "1", "web")
	}
	check("restart", ci.HostConfig.RestartPolicy.Name == "on-failure" && ci.HostConfig.RestartPolicy.MaximumRetryCount == 3, ci.HostConfig.RestartPolicy)
	data = inspectService(t, eng, name, "1", "data")
	check("berth's restart policy (data)", data.HostConfig.RestartPolicy.Name == "unless-stopped", data.HostConfig.RestartPolicy)
	check("tty (data)", data.Config.Tty, data.Config.Tty)
	check("stdin_open (data)", data.Config.OpenStdin && !data.Config.StdinOnce && !data.Config.AttachStdin, data.Config)
	// The mount API cannot relabel for SELinux: a :z bind is made in the
	// -v form, as docker compose makes it.
	check("SELinux :z bind (data)", len(data.HostConfig.Binds) == 1 && data.HostConfig.Binds[0] == root+":/etc/app:ro,z", data.HostConfig.Binds)

	// Inside the container.
	for _, c := range []struct{ path, want string }{
		{"/etc/hostname", "web1\n"},
		{"/proc/sys/net/core/somaxconn", "1024\n"},
		{"/dev/xnull", ""},
	} {
		if code, body := get(t, s.addrs.HTTP, host, "/read?path="+c.path); code != 200 || body != c.want {
			t.Errorf("read %s: %d %q, want %q", c.path, code, body, c.want)
		}
	}
	if _, body := get(t, s.addrs.HTTP, host, "/read?path=/etc/hosts"); !strings.Contains(body, "10.0.0.5\tdb.internal") {
		t.Errorf("/etc/hosts has no db.internal: %q", body)
	}
	if code, _ := get(t, s.addrs.HTTP, host, "/write?path=/note&data=x"); code == 200 {
		t.Error("wrote to a read-only root file system")
	}
	for _, p := range []string{"/run/note", "/scratch/note"} {
		if code, body := get(t, s.addrs.HTTP, host, "/write?path="+p+"&data=x"); code != 200 {
			t.Errorf("write to tmpfs %s: %d %s", p, code, body)
		}
	}
}

// On Engine API 1.41 annotations would be dropped: the deploy is refused
// with the key and why, and nothing starts.
func TestContainerKeys_AnnotationsNeedANewerEngine(t *testing.T) {
	eng := requireDocker(t)
	info, err := eng.Ping(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	s := startServerWith(t, t.TempDir(), func(c *daemon.Config) { c.BindRoots = []string{root} })
	name, host := newApp(t, eng)
	_, err = s.deploy(t, containerKeysApp(t, name, host, root, "    annotations: { com.example.team: web }\n"))
	if !strings.HasPrefix(info.APIVersion, "1.4") || info.APIVersion >= "1.43" {
		if err != nil {
			t.Fatalf("engine API %s applies annotations, deploy: %v", info.APIVersion, err)
		}
		if ci := inspectService(t, eng, name, "1", "web"); ci.HostConfig.Annotations["com.example.team"] != "web" {
			t.Fatalf("annotations: %v", ci.HostConfig.Annotations)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), `service "web": annotations needs Docker Engine API 1.43`) {
		t.Fatalf("deploy with annotations on API %s: %v", info.APIVersion, err)
	}
	cs, _ := eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: name})
	if len(cs) != 0 {
		t.Fatalf("a refused deploy started containers: %+v", cs)
	}
}

// An image for another platform than platform: is refused with the
// image, the platform and what to do.
func TestContainerKeys_PlatformMismatchIsRefused(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %s
services:
  web:
    image: %s
    platform: linux/%s
    x-berth: { port: 8080, hosts: [%s], healthcheck: { path: /up, interval: 200ms } }
`, name, image(t).Ref, other, host))
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.deploy(t, app)
	want := fmt.Sprintf("image %s is not built for platform: linux/%s", image(t).Ref, other)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("deploy of an image for another platform: %v; want it to say %q", err, want)
	}
}
