package spec

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-shellwords"
)

// ExtensionKey is the Compose extension on a service that holds berth's
// settings for it.
const ExtensionKey = "x-berth"

var (
	xberthKeys      = []string{"autoscale", "backup", "body_timeout", "drain_timeout", "healthcheck", "hosts", "jobs", "max_body_size", "paths", "port", "publish", "redirect_https", "release_command", "response_timeout", "stateful", "strip_prefix", "test", "tls", "write_timeout"}
	tlsKeys         = []string{"cert", "key"}
	healthcheckKeys = []string{"deadline", "healthy_threshold", "interval", "path", "replace_after", "timeout", "unhealthy_threshold"}
)

// applyDefaults fills in the x-berth defaults of s.
func applyDefaults(s *Service) {
	s.Healthcheck = Healthcheck{
		Path:               DefaultHealthPath,
		Interval:           Duration(DefaultHealthInterval),
		Timeout:            Duration(DefaultHealthTimeout),
		HealthyThreshold:   DefaultHealthyThreshold,
		UnhealthyThreshold: DefaultUnhealthyThreshold,
		Deadline:           Duration(DefaultHealthDeadline),
		ReplaceAfter:       Duration(DefaultReplaceAfter),
	}
	s.DrainTimeout = Duration(DefaultDrainTimeout)
}

// parseXBerth reads the x-berth extension value raw into s, reporting
// unknown keys and values of the wrong type to c.
func parseXBerth(c *collector, s *Service, raw any) {
	if raw == nil {
		return
	}
	m, ok := parseMapping(c, s.Name, ExtensionKey, raw, xberthKeys)
	if !ok {
		return
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		field := ExtensionKey + "." + k
		switch k {
		case "port":
			if n, ok := parseInt(c, s.Name, field, v); ok {
				if n < 1 || n > 65535 {
					c.add(s.Name, field, fmt.Sprintf("must be between 1 and 65535, got %d", n))
				} else {
					s.Port = n
				}
			}
		case "hosts":
			s.Hosts = parseStrings(c, s.Name, field, v)
		case "drain_timeout":
			if d, ok := parseDuration(c, s.Name, field, v); ok {
				s.DrainTimeout = d
			}
		case "healthcheck":
			parseHealthcheck(c, s, field, v)
		case "release_command":
			s.ReleaseCommand = parseCommand(c, s.Name, field, v)
		case "redirect_https":
			s.RedirectHTTPS = parseBool(c, s.Name, field, v)
		case "max_body_size":
			s.MaxBodyBytes = parseBodySize(c, s.Name, field, v)
		case "body_timeout":
			s.BodyTimeout = parseTimeout(c, s.Name, field, v)
		case "write_timeout":
			s.WriteTimeout = parseTimeout(c, s.Name, field, v)
		case "paths":
			s.Paths = parsePaths(c, s.Name, field, v)
		case "strip_prefix":
			s.StripPrefix = parseBool(c, s.Name, field, v)
		case "response_timeout":
			if d, ok := parseDuration(c, s.Name, field, v); ok {
				s.ResponseTimeout = d
			}
		case "tls":
			s.TLS = parseTLS(c, s.Name, field, v)
		case "test":
			s.Test = parseCommand(c, s.Name, field, v)
		case "stateful":
			s.Stateful = parseBool(c, s.Name, field, v)
		case "publish":
			parsePublish(c, s, field, v)
		case "autoscale":
			parseAutoscale(c, s, field, v)
		case "jobs":
			s.jobs = parseJobs(c, s.Name, field, v)
		case "backup":
			parseBackupHook(c, s, field, v)
		default:
			c.add(s.Name, field, unknownKey(k, xberthKeys))
		}
	}
}

func parseHealthcheck(c *collector, s *Service, field string, raw any) {
	if raw == nil {
		return
	}
	m, ok := parseMapping(c, s.Name, field, raw, healthcheckKeys)
	if !ok {
		return
	}
	h := &s.Healthcheck
	for _, k := range sortedKeys(m) {
		v := m[k]
		f := field + "." + k
		switch k {
		case "path":
			if p, ok := v.(string); ok {
				h.Path = p
			} else {
				c.add(s.Name, f, fmt.Sprintf("must be a URL path such as \"/up\", got %s", describe(v)))
			}
		case "interval", "timeout", "deadline", "replace_after":
			d, ok := parseDuration(c, s.Name, f, v)
			if !ok {
				continue
			}
			switch k {
			case "interval":
				h.Interval = d
			case "timeout":
				h.Timeout = d
			case "replace_after":
				if d <= 0 {
					c.add(s.Name, f, fmt.Sprintf("must be a duration of at least the interval, such as 30s, got %s", d.D()))
					continue
				}
				h.ReplaceAfter = d
			default:
				h.Deadline = d
			}
		case "healthy_threshold", "unhealthy_threshold":
			n, ok := parseInt(c, s.Name, f, v)
			if !ok {
				continue
			}
			if k == "healthy_threshold" {
				h.HealthyThreshold = n
			} else {
				h.UnhealthyThreshold = n
			}
		default:
			c.add(s.Name, f, unknownKey(k, healthcheckKeys))
		}
	}
}

func unknownKey(k string, known []string) string {
	msg := "unknown key"
	if s := suggest(k, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", quote(s))
	}
	return msg + "; known keys: " + strings.Join(known, ", ")
}

// parseInt reads a whole number, also from a string (the result of ${VAR}
// interpolation).
func parseInt(c *collector, service, field string, v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case uint64:
		if n <= math.MaxInt32 {
			return int(n), true
		}
		return math.MaxInt32, true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < math.MaxInt32 {
			return int(n), true
		}
	case string:
		if i, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
			return i, true
		}
	}
	c.add(service, field, fmt.Sprintf("must be a whole number, got %s", describe(v)))
	return 0, false
}

// parseDuration reads a duration string such as "1s" or "500ms".
func parseDuration(c *collector, service, field string, v any) (Duration, bool) {
	if s, ok := v.(string); ok {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err == nil {
			if d < 0 {
				c.add(service, field, fmt.Sprintf("must not be negative, got %s", quote(s)))
				return 0, false
			}
			return Duration(d), true
		}
	}
	c.add(service, field, fmt.Sprintf("must be a duration such as \"1s\" or \"500ms\", got %s", describe(v)))
	return 0, false
}

// parseBool reads true or false; anything else is reported, and false.
func parseBool(c *collector, service, field string, v any) bool {
	b, ok := v.(bool)
	if !ok {
		c.add(service, field, fmt.Sprintf("must be true or false, got %s", describe(v)))
	}
	return b
}

// parseMapping reads a mapping, reporting any other value as not the
// mapping with keys it should be (the keys themselves are the caller's
// to check).
func parseMapping(c *collector, service, field string, v any, keys []string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		c.add(service, field, fmt.Sprintf("must be a mapping with the keys %s, got %s", strings.Join(keys, ", "), describe(v)))
	}
	return m, ok
}

// parseStrings reads a list of host names; a single string is a list of
// one, nothing no list.
func parseStrings(c *collector, service, field string, v any) []string {
	if v == nil {
		return nil
	}
	return parseList(c, service, field, v, "a host name", "a list of host names", "")
}

// parsePaths reads a list of path prefixes; a single string is a list of
// one.
func parsePaths(c *collector, service, field string, v any) []string {
	return parseList(c, service, field, v, `a path prefix such as "/api"`, `a list of path prefixes such as ["/api"]`, "/")
}

// parseList reads a list of strings; a single string is a list of one.
// An element that is not a string is reported as not being elem and
// kept as placeholder, which keeps the indexes in later messages right;
// any other value is reported as not being list.
func parseList(c *collector, service, field string, v any, elem, list, placeholder string) []string {
	switch l := v.(type) {
	case string:
		return []string{l}
	case []any:
		out := make([]string, 0, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				c.add(service, fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("must be %s, got %s", elem, describe(e)))
				s = placeholder
			}
			out = append(out, s)
		}
		return out
	}
	c.add(service, field, fmt.Sprintf("must be %s, got %s", list, describe(v)))
	return nil
}

// parseTLS reads x-berth.tls: {cert: FILE, key: FILE}.
func parseTLS(c *collector, service, field string, v any) *TLSFiles {
	m, ok := parseMapping(c, service, field, v, tlsKeys)
	if !ok {
		return nil
	}
	t := &TLSFiles{}
	for _, k := range sortedKeys(m) {
		f := field + "." + k
		s, ok := m[k].(string)
		switch {
		case k != "cert" && k != "key":
			c.add(service, f, unknownKey(k, tlsKeys))
		case !ok:
			c.add(service, f, fmt.Sprintf("must be the absolute path of a PEM file on the server, got %s", describe(m[k])))
		case k == "cert":
			t.Cert = s
		default:
			t.Key = s
		}
	}
	return t
}

// parseCommand reads a command in exec form (a list) or as a string split
// like a shell would split it (as Compose does for command:).
func parseCommand(c *collector, service, field string, v any) []string {
	switch l := v.(type) {
	case string:
		args, err := shellwords.Parse(l)
		if err != nil || len(args) == 0 {
			c.add(service, field, fmt.Sprintf("cannot split %q into arguments", l))
			return nil
		}
		return args
	case []any:
		out := make([]string, 0, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				c.add(service, fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("must be a string, got %s", describe(e)))
				continue
			}
			out = append(out, s)
		}
		if len(out) == 0 {
			c.add(service, field, "must not be empty")
		}
		return out
	}
	c.add(service, field, fmt.Sprintf("must be a command: a list of strings or a string, got %s", describe(v)))
	return nil
}

// describe shows a value from YAML in a message.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case string:
		return quote(v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
