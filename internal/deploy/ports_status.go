package deploy

// PublishedStatus is one published port of a service.
type PublishedStatus struct {
	// Port is the port as the file has it ("127.0.0.1:8080:80/tcp").
	Port string `json:"port"`
	// Addr is the host address berth's listener holds; empty for a port
	// the container publishes itself (x-berth.publish: direct), or one
	// not bound (see the server's log).
	Addr   string `json:"addr,omitempty"`
	Direct bool   `json:"direct,omitempty"`
	// Served counts the connections (UDP flows) the listener forwarded
	// since berth started; Open is how many are open now, over every
	// release still draining.
	Served uint64 `json:"served,omitempty"`
	Open   int    `json:"open,omitempty"`
}

// publishedStatus fills in the published ports of the live release's
// services.
func (d *Deployer) publishedStatus(st *EnvStatus) {
	if st.Live == nil {
		return
	}
	for i := range st.Services {
		svc, ok := st.Live.Spec.Service(st.Services[i].Name)
		if !ok {
			continue
		}
		for _, p := range svc.Ports {
			ps := PublishedStatus{Port: p.PublishedLabel(), Direct: !svc.Proxied()}
			if l := d.ports.Get(portKey(st.App, st.Env, svc.Name, p)); l != nil && svc.Proxied() {
				ps.Addr = l.Addr().String()
				ps.Served = l.Counters().Served
				if cur := l.Current(); cur != nil {
					ps.Open = cur.Open()
				}
			}
			st.Services[i].Published = append(st.Services[i].Published, ps)
		}
	}
}
