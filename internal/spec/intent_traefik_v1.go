package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// importTraefikV1 reads Traefik v1's labels, as the teams of 2016-2019
// wrote them: traefik.frontend.rule with Host, PathPrefix and
// PathPrefixStrip matchers ("Host:a.example.com,b.example.com;
// PathPrefixStrip:/api") and traefik.port. What it cannot import is a
// warning; nil when there is no traefik.frontend.rule.
func importTraefikV1(labels map[string]string, warn func(label, msg string)) *importedRoute {
	const label = "traefik.frontend.rule"
	rule, ok := labels[label]
	if !ok {
		return nil
	}
	r := &importedRoute{source: "Traefik v1 labels (traefik.frontend.rule)", field: "labels." + label}
	fail := func(msg string) *importedRoute {
		warn(label, fmt.Sprintf("the rule %s was not imported: %s; route the service with x-berth.hosts (and x-berth.paths)", quote(rule), msg))
		r.failed = true
		return r
	}
	for _, part := range strings.Split(rule, ";") {
		name, vals, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return fail(fmt.Sprintf("%s is not a matcher such as Host:example.com", quote(part)))
		}
		var list []string
		for _, v := range strings.Split(vals, ",") {
			if v = strings.TrimSpace(v); v != "" {
				list = append(list, v)
			}
		}
		switch name {
		case "Host":
			if r.hosts != nil {
				return fail("it has two Host matchers")
			}
			for _, h := range list {
				h = strings.ToLower(h)
				if msg := checkHost(h); msg != "" {
					return fail("Host: " + msg)
				}
				if !slices.Contains(r.hosts, h) {
					r.hosts = append(r.hosts, h)
				}
			}
		case "PathPrefix", "PathPrefixStrip":
			if r.paths != nil {
				return fail("it has two path matchers")
			}
			for _, p := range list {
				if msg := checkPathPrefix(p); msg != "" {
					return fail(name + ": " + msg)
				}
			}
			r.paths, r.stripPrefix = list, name == "PathPrefixStrip"
		default:
			return fail(fmt.Sprintf("the matcher %s is not supported (berth imports Host, PathPrefix and PathPrefixStrip)", name))
		}
	}
	if len(r.hosts) == 0 {
		return fail("it matches any host; berth routes by host name (add Host:...)")
	}
	if slices.ContainsFunc(r.paths, func(p string) bool { return NormalizePath(p) == "/" }) {
		r.paths, r.stripPrefix = nil, false
	}
	if v, ok := labels["traefik.port"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			warn("traefik.port", fmt.Sprintf("must be a container port (1 to 65535), got %s; not imported", quote(v)))
		} else {
			r.port, r.portFrom = n, "traefik.port"
		}
	}
	return r
}
