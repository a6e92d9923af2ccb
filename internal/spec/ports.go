package spec

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Port is one Compose ports: entry, as compose-go normalised it (a short
// form "8000-8001:7000-7001" is already two entries). Stored in each
// release: every field but Target and Protocol is omitted when empty.
type Port struct {
	// Target is the container port.
	Target int `json:"target"`
	// Published is the host port; 0 when the file names none, and berth
	// picks a free one (as Docker does), printed by the deploy.
	Published int `json:"published,omitempty"`
	// PublishedEnd, when set, makes Published..PublishedEnd a range of
	// which the first free port is used (Compose's "8000-8010:80").
	PublishedEnd int `json:"published_end,omitempty"`
	// HostIP is the host address to listen on; empty: every address.
	HostIP string `json:"host_ip,omitempty"`
	// Protocol is "tcp" or "udp".
	Protocol string `json:"protocol"`
	// Mode is Compose's "host" or "ingress" (Swarm); empty: ingress.
	Mode        string `json:"mode,omitempty"`
	AppProtocol string `json:"app_protocol,omitempty"`
	Name        string `json:"name,omitempty"`
}

// Publish modes of a service's ports (x-berth.publish).
const (
	// PublishProxy (the default) has berth listen on the host port and
	// forward to the live release: zero downtime.
	PublishProxy = "proxy"
	// PublishDirect binds the host port on the container itself, as
	// docker compose does: the old container stops before the new one
	// starts, and the service is down meanwhile.
	PublishDirect = "direct"
)

// PublishedLabel is how the port reads in messages: "127.0.0.1:8080:80/tcp".
func (p Port) PublishedLabel() string {
	host := ""
	switch {
	case p.Published == 0:
	case p.PublishedEnd != 0:
		host = fmt.Sprintf("%d-%d", p.Published, p.PublishedEnd)
	default:
		host = strconv.Itoa(p.Published)
	}
	s := fmt.Sprintf("%s:%d/%s", host, p.Target, p.Protocol)
	if p.HostIP != "" {
		ip := p.HostIP
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		s = ip + ":" + s
	}
	return s
}

// Proxied reports whether berth's own listener forwards the service's
// ports (it has ports and does not publish them directly).
func (s Service) Proxied() bool { return len(s.Ports) > 0 && s.Publish != PublishDirect }

// convertPorts reads compose-go's ports of a service into s.Ports.
func convertPorts(c *collector, s *Service, ports []types.ServicePortConfig) {
	for i, pc := range ports {
		field := fmt.Sprintf("ports[%d]", i)
		p := Port{Target: int(pc.Target), HostIP: pc.HostIP, Protocol: strings.ToLower(pc.Protocol), Mode: pc.Mode, AppProtocol: pc.AppProtocol, Name: pc.Name}
		if p.Protocol == "" {
			p.Protocol = "tcp"
		}
		if p.Mode == "ingress" {
			p.Mode = "" // the default: keeps the stored form short
		}
		if pub := strings.TrimSpace(pc.Published); pub != "" {
			lo, hi, ok := strings.Cut(pub, "-")
			a, errA := strconv.Atoi(lo)
			b, errB := a, error(nil)
			if ok {
				b, errB = strconv.Atoi(hi)
			}
			switch {
			case errA != nil || errB != nil:
				c.add(s.Name, field, fmt.Sprintf("published %s is not a port or a range of ports (such as 8080 or 8000-8010)", quote(pub)))
				continue
			case a < 1 || b > 65535 || a > b:
				c.add(s.Name, field, fmt.Sprintf("published %s: ports go from 1 to 65535, the first of a range before the last", quote(pub)))
				continue
			}
			p.Published = a
			if b != a {
				p.PublishedEnd = b
			}
		}
		s.Ports = append(s.Ports, p)
	}
}

// parsePublish reads x-berth.publish.
func parsePublish(c *collector, s *Service, field string, v any) {
	str, ok := v.(string)
	switch {
	case !ok:
		c.add(s.Name, field, fmt.Sprintf("must be %q or %q, got %s", PublishProxy, PublishDirect, describe(v)))
	case str == PublishProxy:
	case str == PublishDirect:
		s.Publish = PublishDirect
	default:
		c.add(s.Name, field, fmt.Sprintf("must be %q (berth forwards the host port to the live release: zero downtime) or %q (the container binds the host port: stop, then start), got %s", PublishProxy, PublishDirect, quote(str)))
	}
}

// validatePorts checks each service's ports and that no two of them,
// in one service or two, claim one host port.
func validatePorts(c *collector, a *App) {
	type claim struct {
		svc  string
		port Port
	}
	var claims []claim
	for i := range a.Services {
		s := &a.Services[i]
		if s.Publish != "" && s.Publish != PublishDirect {
			c.add(s.Name, "x-berth.publish", fmt.Sprintf("must be %q or %q", PublishProxy, PublishDirect))
		}
		if s.Publish == PublishDirect && len(s.Ports) == 0 {
			c.add(s.Name, "x-berth.publish", "the service publishes no ports: remove x-berth.publish or add ports:")
		}
		for j, p := range s.Ports {
			field := fmt.Sprintf("ports[%d]", j)
			switch {
			case p.Target < 1 || p.Target > 65535:
				c.add(s.Name, field, fmt.Sprintf("target %d: a container port goes from 1 to 65535", p.Target))
				continue
			case p.Protocol != "tcp" && p.Protocol != "udp":
				c.add(s.Name, field, fmt.Sprintf("protocol %s: berth publishes tcp and udp ports; write /tcp or /udp (or protocol: tcp|udp)", quote(p.Protocol)))
				continue
			case p.Mode != "" && p.Mode != "host":
				c.add(s.Name, field, fmt.Sprintf("mode %s: write host or ingress", quote(p.Mode)))
				continue
			case p.Published < 0 || p.PublishedEnd > 65535 || (p.PublishedEnd != 0 && p.PublishedEnd < p.Published):
				c.add(s.Name, field, "published: ports go from 1 to 65535, the first of a range before the last")
				continue
			}
			if p.HostIP != "" {
				if _, err := netip.ParseAddr(p.HostIP); err != nil {
					c.add(s.Name, field, fmt.Sprintf("host_ip %s is not an IP address: write one of this host's addresses (e.g. 127.0.0.1), or leave it out for every address", quote(p.HostIP)))
					continue
				}
			}
			if s.Publish == PublishDirect && s.Replicas > 1 && p.Published != 0 && p.PublishedEnd-p.Published+1 < s.Replicas {
				c.add(s.Name, field, fmt.Sprintf("%d replicas cannot all bind host port %s with x-berth.publish: direct: leave x-berth.publish out (berth's listener spreads the port over the replicas) or publish a range with a port per replica", s.Replicas, p.PublishedLabel()))
				continue
			}
			for _, o := range claims {
				if PortsOverlap(o.port, p) {
					where := fmt.Sprintf("service %s", quote(o.svc))
					if o.svc == s.Name {
						where = "this service"
					}
					c.add(s.Name, field, fmt.Sprintf("host port %s is also published by %s (%s): one host port can be published once; change one of them", p.PublishedLabel(), where, o.port.PublishedLabel()))
					break
				}
			}
			claims = append(claims, claim{s.Name, p})
		}
	}
}

// PortsOverlap reports whether two ports claim a host port in common:
// the same protocol, overlapping published ports, and the same host
// address or either on every address. Ports without a published port
// (berth picks one) overlap nothing.
func PortsOverlap(a, b Port) bool {
	if a.Protocol != b.Protocol || a.Published == 0 || b.Published == 0 {
		return false
	}
	aEnd, bEnd := max(a.PublishedEnd, a.Published), max(b.PublishedEnd, b.Published)
	if a.Published > bEnd || b.Published > aEnd {
		return false
	}
	return anyAddr(a.HostIP) || anyAddr(b.HostIP) || sameAddr(a.HostIP, b.HostIP)
}

func anyAddr(ip string) bool {
	if ip == "" {
		return true
	}
	a, err := netip.ParseAddr(ip)
	return err == nil && a.IsUnspecified()
}

func sameAddr(a, b string) bool {
	x, errX := netip.ParseAddr(a)
	y, errY := netip.ParseAddr(b)
	if errX != nil || errY != nil {
		return a == b
	}
	return x.Unmap() == y.Unmap()
}
