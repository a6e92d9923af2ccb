package spec

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// MaxNameLength is the longest app name berth accepts.
const MaxNameLength = 40

// MinHealthInterval is the shortest health check interval berth accepts.
const MinHealthInterval = 10 * time.Millisecond

// Validate checks a normalised App: the name, that there is at least one
// service, and that every service's image, replicas, mounts, port, hosts
// and health check settings are sane and no host is routed to two
// services. The server calls it on every App it receives. It returns
// [Errors] listing every problem, or nil.
func (a *App) Validate() error {
	file := ""
	if len(a.Files) > 0 {
		file = a.Files[0]
	}
	c := &collector{fileFor: func(string, string) string { return file }}
	validateApp(c, a)
	return c.err()
}

// Service returns the service with the given name.
func (a *App) Service(name string) (*Service, bool) {
	for i := range a.Services {
		if a.Services[i].Name == name {
			return &a.Services[i], true
		}
	}
	return nil, false
}

// validateApp runs the checks shared by Load and Validate.
func validateApp(c *collector, a *App) {
	if a.Name == "" {
		c.add("", "name", "required: set a top-level name: for the app (e.g. name: shop), or pass one to berth deploy --app")
	} else if msg := checkAppName(a.Name); msg != "" {
		c.add("", "name", msg)
	}
	if len(a.Services) == 0 {
		c.add("", "services", "at least one service is required")
	}
	seen := map[string]bool{}
	validateSize(c, a)
	validateVolumes(c, a)
	validateNetworks(c, a)
	hostOwner := map[string]string{}
	for i := range a.Services {
		s := &a.Services[i]
		if s.Name == "" {
			c.add("", "services", "a service has no name")
			continue
		}
		if seen[s.Name] {
			c.add(s.Name, "", "defined twice")
			continue
		}
		seen[s.Name] = true
		validateService(c, s)
		validateMounts(c, a, s)
		validateBinds(c, s)
		validateServiceNetworks(c, a, s)
		paths := make([]string, 0, len(s.Paths))
		for _, p := range s.Paths {
			if p = NormalizePath(p); !slices.Contains(paths, p) {
				paths = append(paths, p)
			}
		}
		if len(paths) == 0 {
			paths = append(paths, "/")
		}
		for j, h := range s.Hosts {
			for _, p := range paths {
				other, dup := hostOwner[h+" "+p]
				switch {
				case !dup:
					hostOwner[h+" "+p] = s.Name
					continue
				case other == s.Name:
					if p == "/" {
						c.add(s.Name, fmt.Sprintf("x-berth.hosts[%d]", j), fmt.Sprintf("%s is listed twice", quote(h)))
					}
				case p == "/":
					c.add(s.Name, fmt.Sprintf("x-berth.hosts[%d]", j), fmt.Sprintf("%s is also routed to service %s; a host name can be routed to one service only (give the services different x-berth.paths to share it)", quote(h), quote(other)))
				default:
					c.add(s.Name, fmt.Sprintf("x-berth.hosts[%d]", j), fmt.Sprintf("%s path %s is also routed to service %s; a host and path prefix can be routed to one service only", quote(h), quote(p), quote(other)))
				}
				break
			}
		}
	}
	validateDependencies(c, a, seen)
	validatePorts(c, a)
	validateJobs(c, a)
	validateBackups(c, a)
}

// validateDependencies checks depends_on: known services, known
// conditions, no cycles.
func validateDependencies(c *collector, a *App, exists map[string]bool) {
	deps := map[string][]string{}
	for _, s := range a.Services {
		for _, d := range sortedKeys(s.DependsOn) {
			field := "depends_on." + d
			switch cond := s.DependsOn[d]; {
			case !exists[d]:
				c.add(s.Name, field, "no such service in this app")
				continue
			case cond != "service_started" && cond != "service_healthy" && cond != "service_completed_successfully":
				c.add(s.Name, field+".condition", fmt.Sprintf("must be service_started, service_healthy or service_completed_successfully, got %s", quote(cond)))
			}
			deps[s.Name] = append(deps[s.Name], d)
		}
	}
	if _, err := TopoOrder(a); err != nil {
		c.add("", "depends_on", err.Error())
	}
}

// TopoOrder returns the app's service names so that every service comes
// after the services it depends on (ties by name).
func TopoOrder(a *App) ([]string, error) {
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var order []string
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("services depend on each other in a cycle: %s", strings.Join(append(path, name), " -> "))
		case 2:
			return nil
		}
		state[name] = 1
		if s, ok := a.Service(name); ok {
			for _, d := range sortedKeys(s.DependsOn) {
				if _, ok := a.Service(d); ok {
					if err := visit(d, append(path, name)); err != nil {
						return err
					}
				}
			}
		}
		state[name] = 2
		order = append(order, name)
		return nil
	}
	for _, s := range a.Services {
		if err := visit(s.Name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func validateService(c *collector, s *Service) {
	n := s.Name
	validateFiles(c, s)
	if s.Image == "" && s.Build == nil {
		c.add(n, "image", "required: set image: to the image to run (e.g. registry.example/shop:3f2a9c1)")
	}
	if s.Replicas < 1 {
		c.add(n, "deploy.replicas", fmt.Sprintf("must be at least 1, got %d", s.Replicas))
	}
	if s.StopGracePeriod < 0 {
		c.add(n, "stop_grace_period", fmt.Sprintf("must not be negative, got %s", s.StopGracePeriod.D()))
	}
	if s.MemoryBytes < 0 {
		c.add(n, "deploy.resources.limits.memory", fmt.Sprintf("must not be negative, got %d", s.MemoryBytes))
	}
	if s.NanoCPUs < 0 {
		c.add(n, "deploy.resources.limits.cpus", "must not be negative")
	}
	if s.Port < 0 || s.Port > 65535 {
		c.add(n, "x-berth.port", fmt.Sprintf("must be between 1 and 65535, got %d", s.Port))
	} else if s.Port == 0 && len(s.Hosts) > 0 {
		c.add(n, "x-berth.port", "required when x-berth.hosts is set: set it to the port the app listens on inside the container (e.g. port: 8080)")
	}
	if s.Stateful && len(s.Hosts) > 0 {
		c.add(n, "x-berth.stateful", "a stateful service is not routed blue-green: remove x-berth.hosts, or make it stateless")
	}
	if s.Stateful && s.Replicas != 1 {
		c.add(n, "x-berth.stateful", fmt.Sprintf("a stateful service runs one container; set deploy.replicas to 1 (got %d)", s.Replicas))
	}
	if s.Check != nil && s.Check.Test[0] != "CMD" && s.Check.Test[0] != "CMD-SHELL" {
		c.add(n, "healthcheck.test", fmt.Sprintf("must start with CMD or CMD-SHELL, got %s", quote(s.Check.Test[0])))
	}
	for i, h := range s.Hosts {
		if msg := checkHost(h); msg != "" {
			c.add(n, fmt.Sprintf("x-berth.hosts[%d]", i), msg)
		}
	}
	validateRouting(c, s)
	validateAutoscale(c, s)
	h := s.Healthcheck
	if !strings.HasPrefix(h.Path, "/") {
		c.add(n, "x-berth.healthcheck.path", fmt.Sprintf("must start with \"/\", got %s", quote(h.Path)))
	} else if strings.ContainsAny(h.Path, " \t\r\n#") {
		c.add(n, "x-berth.healthcheck.path", fmt.Sprintf("must be a URL path without spaces or fragment, got %s", quote(h.Path)))
	}
	if h.Interval.D() < MinHealthInterval {
		c.add(n, "x-berth.healthcheck.interval", fmt.Sprintf("must be at least %s, got %s", MinHealthInterval, h.Interval.D()))
	}
	if h.Timeout <= 0 {
		c.add(n, "x-berth.healthcheck.timeout", fmt.Sprintf("must be greater than 0, got %s", h.Timeout.D()))
	}
	if h.Deadline <= h.Interval {
		c.add(n, "x-berth.healthcheck.deadline", fmt.Sprintf("must be longer than the interval (%s), got %s", h.Interval.D(), h.Deadline.D()))
	}
	if h.ReplaceAfter != 0 && h.ReplaceAfter < h.Interval { // 0: a definition built in code, DefaultReplaceAfter
		c.add(n, "x-berth.healthcheck.replace_after", fmt.Sprintf("must be at least the interval (%s): a container is replaced once it has failed for that long, got %s", h.Interval.D(), h.ReplaceAfter.D()))
	}
	if h.HealthyThreshold < 1 {
		c.add(n, "x-berth.healthcheck.healthy_threshold", fmt.Sprintf("must be at least 1, got %d", h.HealthyThreshold))
	}
	if h.UnhealthyThreshold < 1 {
		c.add(n, "x-berth.healthcheck.unhealthy_threshold", fmt.Sprintf("must be at least 1, got %d", h.UnhealthyThreshold))
	}
	if s.DrainTimeout < 0 {
		c.add(n, "x-berth.drain_timeout", fmt.Sprintf("must not be negative, got %s", s.DrainTimeout.D()))
	}
}

// validateRouting checks the x-berth settings that need hosts: paths,
// strip_prefix, response_timeout, redirect_https, the client limits and
// tls. Each is refused on a service without hosts, where nothing would
// apply it.
func validateRouting(c *collector, s *Service) {
	n := s.Name
	routed := len(s.Hosts) > 0
	validateLimits(c, s, routed)
	if len(s.Paths) > 0 && !routed {
		c.add(n, "x-berth.paths", "needs x-berth.hosts: paths are prefixes of the service's hosts")
	}
	seen := map[string]bool{}
	for i, p := range s.Paths {
		f := fmt.Sprintf("x-berth.paths[%d]", i)
		if msg := checkPathPrefix(p); msg != "" {
			c.add(n, f, msg)
			continue
		}
		if np := NormalizePath(p); seen[np] {
			c.add(n, f, fmt.Sprintf("%s is listed twice", quote(p)))
		} else {
			seen[np] = true
		}
	}
	if s.StripPrefix && len(s.Paths) == 0 {
		c.add(n, "x-berth.strip_prefix", "needs x-berth.paths: the prefix to strip is the matched path")
	}
	switch {
	case s.ResponseTimeout < 0:
		c.add(n, "x-berth.response_timeout", fmt.Sprintf("must not be negative, got %s", s.ResponseTimeout.D()))
	case s.ResponseTimeout > 0 && !routed:
		c.add(n, "x-berth.response_timeout", "needs x-berth.hosts: the proxy times the app's responses to the service's hosts; remove it from a service that is not routed")
	}
	if s.RedirectHTTPS && !routed {
		c.add(n, "x-berth.redirect_https", "needs x-berth.hosts: the proxy redirects the requests for the service's hosts; remove it from a service that is not routed")
	}
	if s.TLS != nil {
		if !routed {
			c.add(n, "x-berth.tls", "needs x-berth.hosts: the certificate is served for the service's hosts")
		}
		for _, f := range []struct{ name, v string }{{"cert", s.TLS.Cert}, {"key", s.TLS.Key}} {
			switch {
			case f.v == "":
				c.add(n, "x-berth.tls."+f.name, "required: the absolute path of a PEM file on the server")
			case !filepath.IsAbs(f.v):
				c.add(n, "x-berth.tls."+f.name, fmt.Sprintf("must be an absolute path on the server (the server reads and reloads it), got %s", quote(f.v)))
			}
		}
	}
}

// NormalizePath returns a path prefix as the proxy matches it: without a
// trailing "/" (except "/" itself).
func NormalizePath(p string) string {
	if p == "/" {
		return p
	}
	if t := strings.TrimRight(p, "/"); t != "" {
		return t
	}
	return "/"
}

// checkPathPrefix returns what is wrong with a path prefix, or "".
func checkPathPrefix(p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("must start with \"/\" (e.g. \"/api\"), got %s", quote(p))
	case strings.ContainsAny(p, "?# \t\r\n"):
		return fmt.Sprintf("must be a URL path without spaces, query or fragment, got %s", quote(p))
	case strings.Contains(p, "//"):
		return fmt.Sprintf("must not contain an empty segment (\"//\"), got %s", quote(p))
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Sprintf("must not contain \".\" or \"..\" segments, got %s", quote(p))
		}
	}
	return ""
}

// checkAppName returns what is wrong with an app name, or "".
func checkAppName(name string) string {
	ok := len(name) <= MaxNameLength && name[0] >= 'a' && name[0] <= 'z' && name[len(name)-1] != '-'
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			ok = false
		}
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("%s is not a valid app name: use lowercase letters, digits and '-', start with a letter, end with a letter or digit, at most %d characters", quote(name), MaxNameLength)
}

// checkHost returns what is wrong with a host name, or "".
func checkHost(h string) string {
	q := quote(h)
	switch {
	case h == "":
		return "must not be empty"
	case strings.Contains(h, "://"):
		return fmt.Sprintf("%s must be a host name without a scheme (e.g. \"shop.example.com\")", q)
	case strings.Contains(h, "/"):
		return fmt.Sprintf("%s must be a host name without a path", q)
	case strings.Contains(h, ":"):
		return fmt.Sprintf("%s must be a host name without a port", q)
	case strings.Contains(h, "*"):
		return fmt.Sprintf("%s: wildcards are not supported; list each host name", q)
	case strings.ToLower(h) != h:
		return fmt.Sprintf("%s must be lowercase", q)
	case len(h) > 253:
		return fmt.Sprintf("%s is longer than 253 characters", q)
	}
	for _, label := range strings.Split(h, ".") {
		if !validLabel(label) {
			return fmt.Sprintf("%s is not a valid host name: use dot-separated labels of a-z, 0-9 and '-', each 1 to 63 characters, not starting or ending with '-'", q)
		}
	}
	return ""
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, r := range l {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
