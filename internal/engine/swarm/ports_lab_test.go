package swarm_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/swarm/swarmtest"
)

// Compose ports in mode host are published on the node of each task, as
// docker stack deploy publishes them, beside berth's own port. (The
// engine binds one host port per container port: when both are 8080,
// as here, berth's port is the Compose one, and both reach the task.)
func TestWorkload_PublishesComposePortsInHostMode(t *testing.T) {
	f := newWorkload(t, 1)
	swarmtest.RequireNode1(t)
	published := 20000 + int(time.Now().UnixNano()%20000)
	f.spec.Published = []engine.PortBinding{{HostPort: strconv.Itoa(published), Target: 8080, Protocol: "tcp"}}
	f.spec.Template.Labels = map[string]string{engine.LabelProxyPort: "8080"}
	f.spec.Update.Order, f.spec.Rollback.Order = engine.OrderStopFirst, engine.OrderStopFirst
	if _, err := f.b.ApplyWorkload(context.Background(), f.spec); err != nil {
		t.Fatal(err)
	}
	ins := f.serving(t, 2*time.Minute, 1, "1")
	host, _, err := net.SplitHostPort(ins[0].Addr)
	if err != nil {
		t.Fatalf("instance address %q: %v", ins[0].Addr, err)
	}
	c := http.Client{Timeout: 2 * time.Second}
	for _, addr := range []string{net.JoinHostPort(host, strconv.Itoa(published)), ins[0].Addr} {
		waitFor(t, 30*time.Second, func() (bool, string) {
			resp, err := c.Get(fmt.Sprintf("http://%s/", addr))
			if err != nil {
				return false, err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b) == "v1", fmt.Sprintf("GET %s: %q", addr, b)
		})
	}
}
