package spec

import (
	"slices"
	"strings"
	"testing"
)

func TestParseTraefikRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rule  string
		hosts []string
		paths []string
		err   string // a part of the error; "" for none
	}{
		{"Host(`shop.example.com`)", []string{"shop.example.com"}, []string{"/"}, ""},
		{"Host(`a.example.com`, `b.example.com`)", []string{"a.example.com", "b.example.com"}, []string{"/"}, ""},
		{"Host(`a.example.com`) || Host(`b.example.com`)", []string{"a.example.com", "b.example.com"}, []string{"/"}, ""},
		{"Host(\"Shop.Example.com\")", []string{"shop.example.com"}, []string{"/"}, ""},
		{"PathPrefix(`/api`) && Host(`shop.example.com`)", []string{"shop.example.com"}, []string{"/api"}, ""},
		{"Host(`shop.example.com`) && (PathPrefix(`/api`) || PathPrefix(`/admin/`))", []string{"shop.example.com"}, []string{"/api", "/admin"}, ""},
		{"(Host(`a.example.com`) || Host(`b.example.com`)) && PathPrefix(`/api`)", []string{"a.example.com", "b.example.com"}, []string{"/api"}, ""},
		{"Host(`a.example.com`) && PathPrefix(`/x`) || Host(`b.example.com`) && PathPrefix(`/x`)", []string{"a.example.com", "b.example.com"}, []string{"/x"}, ""},
		// Refused:
		{"Host(`a.example.com`) && PathPrefix(`/x`) || Host(`b.example.com`)", nil, nil, "do not all take the same path prefixes"},
		{"PathPrefix(`/api`)", nil, nil, "matches any host"},
		{"HostRegexp(`{sub:[a-z]+}.example.com`)", nil, nil, "the matcher HostRegexp is not supported"},
		{"Host(`a.example.com`) && !PathPrefix(`/x`)", nil, nil, "negation"},
		{"Host(`a.example.com`) && Host(`b.example.com`)", nil, nil, "Host(...) && Host(...)"},
		{"Host(`a.example.com`) & Host(`b.example.com`)", nil, nil, "must be doubled"},
		{"Host(`a.example.com`", nil, nil, "missing )"},
		{"Host(`*.example.com`)", nil, nil, "wildcards are not supported"},
		{"Host(`a.example.com`) && PathPrefix(`api`)", nil, nil, "must start with"},
		{"Host(a.example.com)", nil, nil, "quoted values"},
		{"Host(`a.example.com`))", nil, nil, `unexpected ")"`},
		{"", nil, nil, "empty"},
		{"Host(`unterminated)", nil, nil, "unterminated"},
	} {
		rs, err := parseTraefikRule(tc.rule)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one with %q", tc.rule, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.rule, err)
		case !slices.Equal(rs.Hosts, tc.hosts) || !slices.Equal(rs.Paths, tc.paths):
			t.Errorf("%s: hosts %q paths %q, want %q %q", tc.rule, rs.Hosts, rs.Paths, tc.hosts, tc.paths)
		}
	}
}

// Whatever a label says, the rule parser returns hosts and paths berth
// accepts, or an error; it never panics.
func FuzzParseTraefikRule(f *testing.F) {
	for _, s := range []string{"Host(`a.example.com`)", "Host(`a`) || Host(`b`) && PathPrefix(`/x`)", "((Host(`a`)))", "!Host(`a`)", "Host(`a`,`b`) && (PathPrefix(`/p`) || PathPrefix(`/q`))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		rs, err := parseTraefikRule(rule)
		if err != nil {
			return
		}
		if len(rs.Hosts) == 0 || len(rs.Paths) == 0 {
			t.Fatalf("%q: no hosts or paths and no error: %+v", rule, rs)
		}
		for _, h := range rs.Hosts {
			if msg := checkHost(h); msg != "" {
				t.Fatalf("%q: host %q: %s", rule, h, msg)
			}
		}
		for _, p := range rs.Paths {
			if msg := checkPathPrefix(p); msg != "" {
				t.Fatalf("%q: path %q: %s", rule, p, msg)
			}
		}
	})
}
