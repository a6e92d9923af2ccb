package daemon

import (
	"strings"
	"testing"
)

// --metrics-allow takes networks and single addresses; anything else is
// refused with an example of each.
func TestParseAllow_NetworksAndAddresses(t *testing.T) {
	t.Parallel()
	got, err := parseAllow([]string{"10.1.2.3/8", "192.0.2.7", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "::1/128"}
	for i, p := range got {
		if p.String() != want[i] {
			t.Errorf("%d: %s, want %s", i, p, want[i])
		}
	}
	if _, err := parseAllow([]string{"prometheus"}); err == nil || !strings.Contains(err.Error(), "such as 10.0.0.0/8") {
		t.Errorf("a host name: %v", err)
	}
}
