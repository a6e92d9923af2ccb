package cli

import (
	"strings"
	"testing"
	"time"
)

// The server's 0 means none, which the daemon (as the proxy) spells
// negative; its 0 is the default.
func TestClientLimits_ZeroIsNone(t *testing.T) {
	for _, tc := range []struct {
		size        string
		body, write time.Duration
		wantSize    int64
		wantBody    time.Duration
		wantWrite   time.Duration
	}{
		{"100MB", time.Minute, time.Minute, 100 << 20, time.Minute, time.Minute},
		{"1GB", 5 * time.Minute, 30 * time.Second, 1 << 30, 5 * time.Minute, 30 * time.Second},
		{"0", 0, 0, -1, -1, -1},
		{" 65536 ", 0, time.Second, 65536, -1, time.Second},
	} {
		n, body, write, err := clientLimits(tc.size, tc.body, tc.write)
		if err != nil || n != tc.wantSize || body != tc.wantBody || write != tc.wantWrite {
			t.Errorf("clientLimits(%q, %s, %s) = %d, %s, %s, %v; want %d, %s, %s", tc.size, tc.body, tc.write, n, body, write, err, tc.wantSize, tc.wantBody, tc.wantWrite)
		}
	}
	for _, tc := range []struct {
		size        string
		body, write time.Duration
		want        string
	}{
		{"lots", 0, 0, `--max-body-size "lots": want a size such as 100MB or 1GB, or 0 for no limit`},
		{"-1", 0, 0, `--max-body-size "-1": want a size such as 100MB or 1GB, or 0 for no limit`},
		{"1MB", -time.Second, 0, `--body-timeout -1s: want a duration such as 60s, or 0 for none`},
		{"1MB", 0, -time.Second, `--write-timeout -1s: want a duration such as 60s, or 0 for none`},
	} {
		if _, _, _, err := clientLimits(tc.size, tc.body, tc.write); err == nil || err.Error() != tc.want {
			t.Errorf("clientLimits(%q, %s, %s): %v; want %s", tc.size, tc.body, tc.write, err, tc.want)
		}
	}
}

// --network-pool configures the single-host engine; Swarm has its own
// pool, so the flag is refused there rather than ignored.
func TestServer_NetworkPoolIsForTheDockerEngine(t *testing.T) {
	cmd := newServerCmd()
	cmd.SetArgs([]string{"--engine", "swarm", "--network-pool", "10.201.0.0/16"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "--network-pool is for --engine docker") || !strings.Contains(err.Error(), "--default-addr-pool") {
		t.Fatalf("swarm with --network-pool: %v", err)
	}
}
