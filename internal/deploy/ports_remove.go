package deploy

import (
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/proxy/l4"
	"github.com/berth-dev/berth/internal/spec"
)

// removePorts takes r's published ports off berth's listeners: each
// listener leaves the set, takes no new connection (an empty pool), lets
// the open ones finish up to its service's drain timeout, then unbinds
// the host port, so that another app may publish it at once.
func (d *Deployer) removePorts(r *removal, t *tracker) {
	prefix := portKeyPrefix(r.app, r.env)
	var wg sync.WaitGroup
	for _, e := range d.ports.List() {
		if !strings.HasPrefix(e.Key, prefix) {
			continue
		}
		l := d.ports.Remove(e.Key)
		if l == nil {
			continue
		}
		service := strings.SplitN(strings.TrimPrefix(e.Key, prefix), "/", 2)[0]
		timeout := spec.DefaultDrainTimeout
		if svc, ok := r.def.Service(service); ok {
			timeout = svc.DrainTimeout.D()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if old := l.Swap(l4.NewPool("removed", nil)); old != nil {
				if res := old.Drain(timeout); res.Cut > 0 {
					t.say("drained %s host port %s/%s in %s; %d connection(s) cut at the drain timeout", service, l.Addr(), l.Network(), res.Waited.Round(time.Millisecond), res.Cut)
				}
			}
			l.Close()
			t.say("host port %s/%s of %s is no longer published", l.Addr(), l.Network(), service)
		}()
	}
	wg.Wait()
}
