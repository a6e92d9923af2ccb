package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// Compose networks (spec.Network) on the engine: each network the file
// declares is created per app environment, named berth-APP-ENV-KEY (the
// default network keeps berth-APP-ENV, the one every app environment
// had before networks were applied) or by the file's name:; an external
// one is joined as it is.

// LabelNetwork is set on networks berth creates: the Compose key of the
// network. LabelProxyNetwork is set on a routed container whose address
// for the proxy is not on the app environment's default network: the
// network it is on.
const (
	LabelNetwork      = "berth.network"
	LabelProxyNetwork = "berth.proxy-network"
)

// EngineNetworkName is the engine's name of network key of app in env.
func EngineNetworkName(app *spec.App, env, key string) string {
	def, _ := app.Network(key)
	switch {
	case def.Name != "":
		return def.Name
	case key == spec.DefaultNetwork:
		return NetworkName(app.Name, env)
	}
	return NetworkName(app.Name, env) + "-" + key
}

// usedNetworks are the keys of the networks the app's services join,
// sorted.
func usedNetworks(app *spec.App) []string {
	used := map[string]bool{}
	for _, svc := range app.Services {
		for _, sn := range svc.ServiceNetworks() {
			used[sn.Key] = true
		}
	}
	return slices.Sorted(maps.Keys(used))
}

// ContainerAddress is the address the proxy reaches c at: on the network
// its LabelProxyNetwork names, or on the app environment's own; for a
// container on neither (a worker on networks of its own), its address on
// the first of its networks by name, for status.
func ContainerAddress(c engine.Container, app, env string) string {
	if n := c.Labels[LabelProxyNetwork]; n != "" {
		return c.Addresses[n]
	}
	if a, ok := c.Addresses[NetworkName(app, env)]; ok {
		return a
	}
	if len(c.Addresses) > 0 {
		return c.Addresses[slices.Min(slices.Collect(maps.Keys(c.Addresses)))]
	}
	return ""
}

// ensureNetworks gives the app environment the networks its services
// join. Every external network must exist, and an engine too old for a
// setting refuses it, before any network is created.
func (d *Deployer) ensureNetworks(ctx context.Context, app *spec.App, env string, say func(string, ...any)) error {
	if err := d.checkNetworks(ctx, app, env); err != nil {
		return err
	}
	for _, key := range usedNetworks(app) {
		def, _ := app.Network(key)
		name := EngineNetworkName(app, env, key)
		if def.External {
			continue
		}
		labels := map[string]string{engine.LabelManaged: "true", engine.LabelApp: app.Name, engine.LabelEnv: env}
		if isBare(def) {
			// The app environment's own network, as it always was.
			if _, err := d.eng.EnsureNetwork(ctx, name, labels); err != nil {
				return fmt.Errorf("create network %s: %w", name, err)
			}
			continue
		}
		n, err := d.eng.EnsureNetworkSpec(ctx, networkSpec(app, env, name, def))
		if err != nil {
			return fmt.Errorf("%w: networks.%s: %w", ErrInvalid, key, err)
		}
		if n.Labels[engine.LabelManaged] != "true" {
			say("network %s: %s exists and was not created by berth: joining it as it is (write external: true to say so)", key, name)
		} else if n.Internal != def.Internal {
			say("network %s: %s exists with internal: %t and keeps it (live containers use it); the file's internal: %t applies once the app environment is removed", key, name, n.Internal, def.Internal)
		}
	}
	return nil
}

// checkNetworks refuses, before anything changes, a release that joins
// an external network that does not exist, routes a service the proxy
// could not reach, or sets what the engine cannot.
func (d *Deployer) checkNetworks(ctx context.Context, app *spec.App, env string) error {
	var refusals []string
	drivers := map[string]string{} // key → driver
	for _, key := range usedNetworks(app) {
		def, _ := app.Network(key)
		drivers[key] = def.Driver
		if !def.External {
			continue
		}
		name := EngineNetworkName(app, env, key)
		n, err := d.eng.InspectNetwork(ctx, name)
		if errors.Is(err, engine.ErrNotFound) {
			refusals = append(refusals, fmt.Sprintf("network %s (networks.%s, external: true) does not exist: create it first (docker network create %s), or remove external: true to have berth create it; berth never creates or removes an external network", name, key, name))
			continue
		}
		if err != nil {
			return fmt.Errorf("network %s: %w", key, err)
		}
		drivers[key] = n.Driver
	}
	if d.cluster == nil {
		// The proxy, on this host, dials a routed container's address on
		// its first network: a bridge's, which the host routes to.
		for _, svc := range app.Services {
			nets := svc.ServiceNetworks()
			if !svc.Routed() || len(nets) == 0 {
				continue
			}
			if drv := drivers[nets[0].Key]; drv != "" && drv != "bridge" {
				refusals = append(refusals, fmt.Sprintf("service %q: networks.%s: the proxy reaches a routed service from this host at its address on its first network, and a %s network does not route to the host the way a bridge does: give a bridge network the highest priority: for this service, or join it to the default network too", svc.Name, nets[0].Key, drv))
			}
		}
	}
	if len(refusals) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(refusals, "; "))
	}
	return d.checkMacAddresses(ctx, app)
}

func isBare(n spec.Network) bool {
	return n.Key == spec.DefaultNetwork && n.Name == "" && !n.External && n.Driver == "" && len(n.DriverOpts) == 0 &&
		!n.Internal && !n.Attachable && len(n.Labels) == 0 && !n.EnableIPv6 && n.IPAM == nil
}

// networkSpec is how berth creates network def: the file's settings,
// with berth's labels (app, env, key) over its own.
func networkSpec(app *spec.App, env, name string, def spec.Network) engine.NetworkSpec {
	labels := maps.Clone(def.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[engine.LabelManaged] = "true"
	labels[engine.LabelApp] = app.Name
	labels[engine.LabelEnv] = env
	labels[LabelNetwork] = def.Key
	s := engine.NetworkSpec{
		Name: name, Driver: def.Driver, DriverOpts: maps.Clone(def.DriverOpts), Internal: def.Internal,
		Attachable: def.Attachable, EnableIPv6: def.EnableIPv6, Labels: labels,
	}
	if ip := def.IPAM; ip != nil {
		s.IPAM = &engine.IPAM{Driver: ip.Driver, Options: maps.Clone(ip.Options)}
		for _, p := range ip.Config {
			s.IPAM.Config = append(s.IPAM.Config, engine.IPAMPool{Subnet: p.Subnet, IPRange: p.IPRange, Gateway: p.Gateway, AuxAddresses: maps.Clone(p.AuxAddresses)})
		}
	}
	return s
}

// checkMacAddresses refuses a per-network mac_address on an engine whose
// API cannot set it (before 1.44, Engine 25).
func (d *Deployer) checkMacAddresses(ctx context.Context, app *spec.App) error {
	var svcs []string
	for _, svc := range app.Services {
		for _, sn := range svc.Networks {
			if sn.MacAddress != "" {
				svcs = append(svcs, fmt.Sprintf("service %q: networks.%s.mac_address", svc.Name, sn.Key))
			}
		}
	}
	if len(svcs) == 0 {
		return nil
	}
	info, err := d.eng.Ping(ctx)
	if err != nil {
		return err
	}
	if apiBefore(info.APIVersion, 1, 44) {
		return fmt.Errorf("%w: %s: a MAC address per network needs Docker Engine API 1.44 (Engine 25) or later, and this engine speaks %s: remove it, or upgrade the engine", ErrInvalid, strings.Join(svcs, ", "), info.APIVersion)
	}
	return nil
}

// apiBefore reports whether API version v ("1.41") is before major.minor.
func apiBefore(v string, major, minor int) bool {
	a, b, _ := strings.Cut(v, ".")
	ma, err1 := strconv.Atoi(a)
	mi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return true
	}
	return ma < major || ma == major && mi < minor
}

// serviceAliases are the names svc's container answers to on the app
// environment's own network: the service's, and its container_name.
func serviceAliases(svc spec.Service) []string {
	if svc.ContainerName != "" && svc.ContainerName != svc.Name {
		return []string{svc.Name, svc.ContainerName}
	}
	return []string{svc.Name}
}

// applyNetworks sets how the container of svc joins its networks: the
// first (highest priority) at creation, the rest before it starts; the
// service's name is an alias on each, as in Compose. A routed container
// whose first network is not the app environment's default one is
// labelled with the network the proxy reaches it on.
func applyNetworks(cs *engine.ContainerSpec, app *spec.App, env string, svc spec.Service) {
	if m := svc.NetworkMode; m != "" {
		cs.Network, cs.Aliases = "", nil
		cs.NetworkMode = m // service:NAME is resolved by resolveServiceModes
		if m == "bridge" && svc.Routed() {
			cs.Labels[LabelProxyNetwork] = "bridge"
		}
		return
	}
	if len(svc.Networks) == 0 && isBare(mustNetwork(app, spec.DefaultNetwork)) {
		return // the app environment's own network, as containerSpec set it
	}
	for i, sn := range svc.ServiceNetworks() {
		a := engine.NetworkAttachment{
			Name:        EngineNetworkName(app, env, sn.Key),
			IPv4Address: sn.IPv4Address, IPv6Address: sn.IPv6Address,
			LinkLocalIPs: slices.Clone(sn.LinkLocalIPs), DriverOpts: maps.Clone(sn.DriverOpts), MacAddress: sn.MacAddress,
		}
		if !sn.NoServiceAlias {
			a.Aliases = append(a.Aliases, svc.Name)
		}
		if svc.ContainerName != "" {
			a.Aliases = append(a.Aliases, svc.ContainerName)
		}
		a.Aliases = append(a.Aliases, sn.Aliases...)
		if i == 0 {
			cs.Network, cs.Aliases = a.Name, a.Aliases
			a.Name, a.Aliases = "", nil
			cs.Endpoint = a
			if svc.Routed() && cs.Network != NetworkName(app.Name, env) {
				cs.Labels[LabelProxyNetwork] = cs.Network
			}
			continue
		}
		cs.Networks = append(cs.Networks, a)
	}
}

func mustNetwork(app *spec.App, key string) spec.Network {
	n, _ := app.Network(key)
	return n
}

// resolveServiceModes points each network_mode service:NAME container at
// the container of NAME it shares a network namespace with: the one of
// the same release and replica number (replica 1 when NAME has fewer),
// or NAME's kept container when NAME is stateful and kept as it is.
// Compose's depends_on on NAME (spec adds it) starts NAME first.
func resolveServiceModes(p *Plan) {
	for i := range p.Start {
		cs := &p.Start[i].Spec
		dep, ok := strings.CutPrefix(cs.NetworkMode, "service:")
		if !ok {
			continue
		}
		target := ""
		if kept := p.Keep[dep]; len(kept) > 0 {
			target = kept[0].Name
		}
		for _, q := range p.Start {
			if q.Service == dep && (q.Index == p.Start[i].Index || q.Index == 1 && target == "") {
				target = q.Spec.Name
			}
		}
		if target != "" {
			cs.NetworkMode = "container:" + target
		}
	}
}

// oneOffNetworking drops what a one-off container beside the service's
// own containers must not take: its fixed and link-local addresses (held
// by the service's container) and its aliases (the service's name is for the
// service's containers).
func oneOffNetworking(cs *engine.ContainerSpec) {
	cs.Aliases = nil
	cs.Endpoint = engine.NetworkAttachment{DriverOpts: cs.Endpoint.DriverOpts}
	nets := make([]engine.NetworkAttachment, len(cs.Networks))
	for i, a := range cs.Networks {
		nets[i] = engine.NetworkAttachment{Name: a.Name, DriverOpts: a.DriverOpts}
	}
	cs.Networks = nets
	delete(cs.Labels, LabelProxyNetwork)
}

// oneOffServiceMode points a one-off container of a network_mode
// service:NAME service at a running container of NAME, of release rel
// when it has one.
func (d *Deployer) oneOffServiceMode(ctx context.Context, app, env string, rel int64, cs *engine.ContainerSpec) error {
	dep, ok := strings.CutPrefix(cs.NetworkMode, "service:")
	if !ok {
		return nil
	}
	cands, err := d.eng.ListContainers(ctx, map[string]string{engine.LabelApp: app, engine.LabelEnv: env, engine.LabelService: dep})
	if err != nil {
		return fmt.Errorf("list containers of %s: %w", dep, err)
	}
	target := ""
	for _, c := range cands {
		if !c.Running() || c.Labels[LabelOneOff] == "true" {
			continue
		}
		if target == "" || c.Labels[engine.LabelRelease] == releaseLabel(rel) {
			target = c.Name
		}
	}
	if target == "" {
		return fmt.Errorf("%w: network_mode service:%s: service %q has no running container to share the network of: deploy the app, or start %s", ErrInvalid, dep, dep, dep)
	}
	cs.NetworkMode = "container:" + target
	return nil
}
