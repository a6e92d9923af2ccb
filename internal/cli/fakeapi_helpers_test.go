package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// cliResult is what one berth command printed and its exit code.
type cliResult struct {
	out, errOut string
	code        int
}

// serveAPI points the CLI (BERTH_ADDR, BERTH_TOKEN) at an httptest
// server answering with h, one request at a time (the handler may keep
// what it was sent without locking), and returns a runner of berth
// commands against it. Tests that use it cannot be parallel (t.Setenv).
func serveAPI(t *testing.T, h http.HandlerFunc) func(stdin string, args ...string) cliResult {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("BERTH_ADDR", srv.URL)
	t.Setenv("BERTH_TOKEN", "test")
	return func(stdin string, args ...string) cliResult {
		t.Helper()
		var out, errOut bytes.Buffer
		root := newRoot(&out, &errOut)
		root.SetIn(strings.NewReader(stdin))
		root.SetArgs(args)
		code := 0
		if err := root.Execute(); err != nil {
			errOut.WriteString(err.Error())
			code = 1
		}
		return cliResult{out.String(), errOut.String(), code}
	}
}

// mustRun runs a berth command that must succeed and returns what it
// printed on standard output and standard error.
func mustRun(t *testing.T, run func(string, ...string) cliResult, args ...string) (string, string) {
	t.Helper()
	r := run("", args...)
	if r.code != 0 {
		t.Fatalf("berth %s: exit %d\n%s", strings.Join(args, " "), r.code, r.errOut)
	}
	return r.out, r.errOut
}

// unexpected answers a request a fake API does not expect.
func unexpected(w http.ResponseWriter) {
	http.Error(w, `{"error":"unexpected"}`, http.StatusNotFound)
}
