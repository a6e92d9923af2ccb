package spec

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/docker/go-units"
)

// The client limits of a routed service: x-berth.max_body_size,
// body_timeout and write_timeout. Each is a pointer: nil, left out of
// the file, takes the server's default; 0 turns the limit off, as
// nginx's client_max_body_size 0 does.

// parseTimeout reads a proxy timeout that 0 turns off: a duration string
// such as "60s", or 0 (a number needs no unit when it is zero).
func parseTimeout(c *collector, service, field string, v any) *Duration {
	if isZero(v) {
		return new(Duration(0))
	}
	if str, ok := v.(string); ok {
		d, err := time.ParseDuration(strings.TrimSpace(str))
		switch {
		case err == nil && d >= 0:
			return new(Duration(d))
		case err == nil:
			c.add(service, field, fmt.Sprintf("must not be negative, got %s; write 0 for no timeout", quote(str)))
			return nil
		}
	}
	c.add(service, field, fmt.Sprintf("must be a duration such as \"60s\", or 0 for no timeout, got %s", describe(v)))
	return nil
}

// parseBodySize reads a request body limit: a size such as "10MB"
// (binary units, as Compose's memory sizes), a number of bytes, or 0 or
// "unlimited" for no limit.
func parseBodySize(c *collector, service, field string, v any) *int64 {
	const want = `must be a size such as "10MB" or a number of bytes, or 0 (or "unlimited") for no limit, got %s`
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		if x > math.MaxInt64 {
			c.add(service, field, fmt.Sprintf(want, describe(v)))
			return nil
		}
		n = int64(x)
	case float64:
		if x != math.Trunc(x) || math.Abs(x) >= math.MaxInt64 {
			c.add(service, field, fmt.Sprintf(want, describe(v)))
			return nil
		}
		n = int64(x)
	case string:
		str := strings.TrimSpace(x)
		if strings.EqualFold(str, "unlimited") {
			return new(int64(0))
		}
		if strings.HasPrefix(str, "-") {
			c.add(service, field, fmt.Sprintf("must not be negative, got %s; write 0 (or \"unlimited\") for no limit", quote(x)))
			return nil
		}
		b, err := units.RAMInBytes(str)
		if err != nil || b < 0 { // b < 0: beyond int64 ("1e30")
			c.add(service, field, fmt.Sprintf(want, describe(v)))
			return nil
		}
		n = b
	default:
		c.add(service, field, fmt.Sprintf(want, describe(v)))
		return nil
	}
	if n < 0 {
		c.add(service, field, fmt.Sprintf("must not be negative, got %d; write 0 (or \"unlimited\") for no limit", n))
		return nil
	}
	return &n
}

// isZero reports whether v is the number 0.
func isZero(v any) bool {
	switch n := v.(type) {
	case int:
		return n == 0
	case int64:
		return n == 0
	case uint64:
		return n == 0
	case float64:
		return n == 0
	}
	return false
}

// validateLimits checks max_body_size, body_timeout and write_timeout:
// set only on a routed service (the proxy applies them), never negative
// (0 is the way to say none; Load reads nothing else, but Validate also
// sees apps sent as JSON).
func validateLimits(c *collector, s *Service, routed bool) {
	n := s.Name
	if s.MaxBodyBytes != nil {
		switch {
		case !routed:
			c.add(n, "x-berth.max_body_size", "needs x-berth.hosts: the proxy limits the request bodies sent to the service's hosts; remove it from a service that is not routed")
		case *s.MaxBodyBytes < 0:
			c.add(n, "x-berth.max_body_size", fmt.Sprintf("must not be negative, got %d; write 0 (or \"unlimited\") for no limit", *s.MaxBodyBytes))
		}
	}
	for _, t := range []struct {
		key, what string
		d         *Duration
	}{
		{"body_timeout", "the request bodies sent to", s.BodyTimeout},
		{"write_timeout", "its writes to the clients of", s.WriteTimeout},
	} {
		switch {
		case t.d == nil:
		case !routed:
			c.add(n, "x-berth."+t.key, fmt.Sprintf("needs x-berth.hosts: the proxy times %s the service's hosts; remove it from a service that is not routed", t.what))
		case *t.d < 0:
			c.add(n, "x-berth."+t.key, fmt.Sprintf("must not be negative, got %s; write 0 for no timeout", t.d.D()))
		}
	}
}
