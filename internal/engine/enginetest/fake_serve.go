package enginetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
)

// serving is how containers of one image serve HTTP (Serve).
type serving struct {
	port    int
	handler func(engine.Container) http.Handler
}

// served is the live HTTP server of one fake container while it runs.
type served struct {
	ip  string
	how serving
	srv *http.Server
}

// Serve makes every container created afterwards from image ref (by the
// image it resolves to, whatever reference the caller uses) a real
// HTTP server on port while it runs, so that the packages above the
// engine (deploy, api) can run a whole switch (start, health checks,
// route swap, drain, retire) in process, without Docker. Each such
// container gets its own loopback address (127.x.y.z, never an address
// off this machine) on every network it joins; handler is asked once per
// start for the container's handler (its labels say which release it
// belongs to). Stopping or removing the container closes its listener
// and cuts its open connections at once, as a killed process would.
// Servers still running when tb ends are closed.
func (f *Fake) Serve(tb testing.TB, ref string, port int, handler func(engine.Container) http.Handler) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.serving == nil {
		f.serving = map[string]serving{}
		tb.Cleanup(f.closeServers)
	}
	f.serving[ref] = serving{port: port, handler: handler}
}

// Listening reports the loopback address a served container listens on
// while it runs ("" when it is not served or not running).
func (f *Fake) Listening(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.lookupLocked(id)
	if c == nil || c.served == nil || c.served.srv == nil {
		return ""
	}
	return net.JoinHostPort(c.served.ip, strconv.Itoa(c.served.how.port))
}

// assignServedLocked gives a container of a served image its loopback
// address, on every network it joined. Another test (in this process or
// another package's) may hold an address, so it picks at random and
// tries again on EADDRINUSE.
func (f *Fake) assignServedLocked(c *fakeContainer) error {
	var sv serving
	found := false
	for ref, s := range f.serving {
		if img := f.resolveImageLocked(ref); img != nil && img.ID == c.c.ImageID {
			sv, found = s, true
			break
		}
	}
	if !found {
		return nil
	}
	for range 50 {
		ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(256), 1+rand.IntN(254))
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(sv.port)))
		if errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		if err != nil {
			return fmt.Errorf("fake: serve %s: %w", c.c.Name, err)
		}
		l.Close()
		c.served = &served{ip: ip, how: sv}
		if len(c.c.Addresses) == 0 {
			c.c.Addresses["bridge"] = ip
		}
		for n := range c.c.Addresses {
			c.c.Addresses[n] = ip
		}
		return nil
	}
	return fmt.Errorf("fake: serve %s: no free loopback address for port %d", c.c.Name, sv.port)
}

// startServingLocked listens for a served container that just started.
func (f *Fake) startServingLocked(c *fakeContainer) {
	if c.served == nil || c.served.srv != nil {
		return
	}
	sv := c.served.how
	l, err := net.Listen("tcp", net.JoinHostPort(c.served.ip, strconv.Itoa(sv.port)))
	if err != nil {
		// The process "crashed" at start: nothing listens, health checks
		// fail, as they would against a real container.
		c.logs = append(c.logs, fakeLogLine{t: f.now(), text: fmt.Sprintf("listen: %v\n", err)})
		return
	}
	srv := &http.Server{Handler: sv.handler(c.clone())}
	c.served.srv = srv
	go srv.Serve(l)
}

// stopServingLocked closes a served container's listener and its
// connections: the process is gone.
func (f *Fake) stopServingLocked(c *fakeContainer) {
	if c.served == nil || c.served.srv == nil {
		return
	}
	c.served.srv.Close()
	c.served.srv = nil
}

func (f *Fake) closeServers() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		f.stopServingLocked(c)
	}
}
