package spec

import (
	"testing"
	"time"
)

// The YAML decoder and ${VAR} interpolation hand the limits over as any of
// these types; the golden files cover the messages.
func TestParseLimits_Forms(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want int64 // -1: refused
	}{
		{"10MB", 10 << 20}, {"1.5KiB", 1536}, {" 2g ", 2 << 30}, {"0", 0}, {"unlimited", 0}, {"Unlimited", 0},
		{0, 0}, {int64(4096), 4096}, {uint64(1 << 40), 1 << 40}, {float64(512), 512},
		{-1, -1}, {"-1", -1}, {"1e30", -1}, {1.5, -1}, {"lots", -1}, {true, -1}, {nil, -1},
	} {
		c := &collector{}
		got := parseBodySize(c, "web", "x-berth.max_body_size", tc.v)
		switch {
		case tc.want < 0 && (got != nil || c.err() == nil):
			t.Errorf("max_body_size %#v: %v, %v; want refused", tc.v, got, c.err())
		case tc.want >= 0 && (got == nil || *got != tc.want || c.err() != nil):
			t.Errorf("max_body_size %#v: %v, %v; want %d", tc.v, got, c.err(), tc.want)
		}
	}
	for _, tc := range []struct {
		v    any
		want time.Duration // -1: refused
	}{
		{"60s", time.Minute}, {" 1m30s ", 90 * time.Second}, {"0", 0}, {"0s", 0}, {0, 0}, {uint64(0), 0}, {0.0, 0},
		{60, -1}, {"-1s", -1}, {"off", -1}, {false, -1}, {nil, -1},
	} {
		c := &collector{}
		got := parseTimeout(c, "web", "x-berth.body_timeout", tc.v)
		switch {
		case tc.want < 0 && (got != nil || c.err() == nil):
			t.Errorf("body_timeout %#v: %v, %v; want refused", tc.v, got, c.err())
		case tc.want >= 0 && (got == nil || got.D() != tc.want || c.err() != nil):
			t.Errorf("body_timeout %#v: %v, %v; want %s", tc.v, got, c.err(), tc.want)
		}
	}
}
