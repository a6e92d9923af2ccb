package enginetest

import (
	"context"
	"fmt"
	"maps"

	"github.com/berth-dev/berth/internal/engine"
)

// EnsureNetworkSpec creates the network s describes unless one of its
// name exists, and returns it.
func (f *Fake) EnsureNetworkSpec(ctx context.Context, s engine.NetworkSpec) (engine.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("EnsureNetworkSpec"); err != nil {
		return engine.Network{}, err
	}
	if _, ok := f.networks[s.Name]; ok {
		if err := f.ownLocked("network", s.Name, f.objLabels["network/"+s.Name]); err != nil {
			return engine.Network{}, err
		}
	} else {
		s.Labels = f.stampLocked(s.Labels)
		f.networks[s.Name] = f.nextIDLocked("network")
		if f.netSpecs == nil {
			f.netSpecs = map[string]engine.NetworkSpec{}
		}
		f.netSpecs[s.Name] = s
		f.labelLocked("network", s.Name, s.Labels) // for NetworksByLabel
	}
	return f.networkLocked(s.Name), nil
}

// InspectNetwork returns the named network, or ErrNotFound, wrapped.
func (f *Fake) InspectNetwork(ctx context.Context, name string) (engine.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.networks[name]; !ok {
		return engine.Network{}, fmt.Errorf("fake: inspect network %s: %w", name, engine.ErrNotFound)
	}
	return f.networkLocked(name), nil
}

// AddNetwork makes a network exist as if created outside berth (an
// external network).
func (f *Fake) AddNetwork(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.networks[name]; !ok {
		f.networks[name] = f.nextIDLocked("network")
	}
}

// NetworkSpecOf returns the spec a network was created from by
// EnsureNetworkSpec.
func (f *Fake) NetworkSpecOf(name string) (engine.NetworkSpec, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.netSpecs[name]
	return s, ok
}

func (f *Fake) networkLocked(name string) engine.Network {
	s := f.netSpecs[name]
	n := engine.Network{ID: f.networks[name], Name: name, Driver: s.Driver, Scope: "local", Internal: s.Internal, Labels: maps.Clone(s.Labels)}
	if s.IPAM != nil {
		for _, p := range s.IPAM.Config {
			n.Subnets = append(n.Subnets, p.Subnet)
		}
	}
	return n
}
