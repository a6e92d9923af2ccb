package daemon

import (
	"strings"
	"testing"
)

func TestDockerOptions_NetworkPool(t *testing.T) {
	for _, tc := range []struct {
		pool   string
		size   int
		want   string // the pool, or "engine"
		errHas string
	}{
		{pool: "", size: 0, want: "10.200.0.0/16 in /24s"},
		{pool: "10.201.0.0/16", size: 26, want: "10.201.0.0/16 in /26s"},
		{pool: "172.30.0.0/15", size: 0, want: "172.30.0.0/15 in /24s"},
		{pool: "docker", size: 24, want: "engine"},
		{pool: "10.201.3.0/16", size: 24, errHas: "--network-pool 10.201.3.0/16 --network-size 24: 10.201.3.0/16 is not the start of a /16: did you mean 10.201.0.0/16?"},
		{pool: "10.201.0.0/24", size: 20, errHas: "does not fit"},
		{pool: "nope", size: 24, errHas: "--network-pool docker"},
	} {
		opts, err := dockerOptions(Config{NetworkPool: tc.pool, NetworkSize: tc.size})
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%q /%d: %v, want an error with %q", tc.pool, tc.size, err, tc.errHas)
			}
			continue
		}
		got := opts.Networks.String()
		if opts.EngineSubnets {
			got = "engine"
		}
		if err != nil || got != tc.want {
			t.Errorf("%q /%d: %s %v, want %s", tc.pool, tc.size, got, err, tc.want)
		}
	}
}
