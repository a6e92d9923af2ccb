package deploy

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy/l4"
	"github.com/berth-dev/berth/internal/spec"
)

// Removing an app environment unbinds its published ports, and only its
// own: another app may publish them at once.
func TestRemovePorts_UnbindsTheEnvironmentsPorts(t *testing.T) {
	t.Parallel()
	d := fakeDeployer(t, enginetest.NewFake())
	p := spec.Port{Target: 7000, HostIP: "127.0.0.1", Protocol: "tcp"}
	mine := listenT(t, p, 0)
	mine.Swap(l4.NewPool("1", nil))
	other := listenT(t, p, 0)
	d.ports.Put(portKey("shop", "production", "echo", p), portOwner("shop", "production", "echo"), mine)
	d.ports.Put(portKey("blog", "production", "echo", p), portOwner("blog", "production", "echo"), other)
	var said []string
	tr := newTracker(time.Now, func(p Progress) { said = append(said, p.Message) })
	d.removePorts(&removal{app: "shop", env: "production", def: spec.App{Name: "shop"}}, tr)
	if d.ports.Get(portKey("shop", "production", "echo", p)) != nil {
		t.Error("the removed environment's listener is still in the set")
	}
	if d.ports.Get(portKey("blog", "production", "echo", p)) != other {
		t.Error("another app's listener went too")
	}
	ln, err := net.Listen("tcp", mine.Addr().String())
	if err != nil {
		t.Fatalf("host port %s is still held after the removal: %v", mine.Addr(), err)
	}
	ln.Close()
	if len(said) != 1 || !strings.Contains(said[0], "is no longer published") {
		t.Errorf("said %q", said)
	}
}
