package deploy

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/store"
)

// On a cluster, what a task cannot carry is refused with the key, the
// service and why; what it can is applied.
func TestClusterContainerRefusals(t *testing.T) {
	t.Parallel()
	app := loadCompose(t, `name: shop
services:
  web:
    image: web:1
    privileged: true
    devices: ["/dev/fuse"]
    shm_size: 64m
    security_opt: [no-new-privileges:true]
    domainname: example.internal
    oom_score_adj: 10
    memswap_limit: 1g
    mem_limit: 512m
    cpu_shares: 512
    cpuset: "0"
    platform: linux/amd64
    runtime: runc
    annotations: { a: b }
    volumes_from: ["container:legacy"]
    tmpfs: ["/run:size=1m,noexec"]
    volumes:
      - { type: volume, source: data, target: /data, volume: { subpath: sub } }
      - /srv/conf:/conf:ro,Z
  ok:
    image: ok:1
    cap_add: [NET_ADMIN]
    tmpfs: ["/run:size=1m,mode=1777"]
    hostname: ok1
    init: true
    read_only: true
    restart: on-failure:4
    pids_limit: 64
    mem_reservation: 16m
    tty: true
    stdin_open: true
volumes:
  data: {}
`)
	msgs := clusterRefusals(app)
	joined := strings.Join(msgs, "\n")
	for _, key := range []string{"privileged", "devices", "shm_size", "security_opt", "domainname", "oom_score_adj", "memswap_limit",
		"cpu_shares", "cpuset", "platform", "runtime", "annotations", "volumes_from", "tmpfs[0]", "volumes[0].volume.subpath", "volumes[1]"} {
		if !strings.Contains(joined, `service "web": `+key+": ") {
			t.Errorf("no refusal of %s:\n%s", key, joined)
		}
	}
	if strings.Contains(joined, `service "ok"`) {
		t.Errorf("keys a task can carry are refused:\n%s", joined)
	}
	ok, _ := app.Service("ok")
	w := workloadSpec(app, "production", *ok, store.Release{ID: 1, Services: map[string]store.ServiceImage{}}, nil, nil, nil)
	if w.Restart.Condition != "on-failure" || w.Restart.MaxAttempts != 4 {
		t.Errorf("restart: on-failure:4 on a cluster: %+v", w.Restart)
	}
	if w.Resources.LimitPids != 64 || w.Resources.ReserveMemoryBytes != 16<<20 {
		t.Errorf("resources: %+v", w.Resources)
	}
	if o := w.Template.Options; o == nil || o.Hostname != "ok1" || !o.ReadOnly || o.Tmpfs["/run"] != "size=1m,mode=1777" || !o.TTY || !o.StdinOpen {
		t.Errorf("template options: %+v", o)
	}
}
