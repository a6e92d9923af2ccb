package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
)

// berth prune asks for the build cache only with --build-cache, and then
// says that every app's cache mounts went.
func TestPrune_BuildCacheOnlyWhenAsked(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		rep := dto.PruneReport{Images: []string{"sha256:a"}, FreedBytes: 2 << 20}
		if r.URL.Query().Get("build_cache") == "true" {
			rep.BuildCacheBytes = 3 << 20
		}
		json.NewEncoder(w).Encode(rep)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("BERTH_ADDR", srv.URL)
	t.Setenv("BERTH_TOKEN", "test")
	for _, tc := range []struct {
		args      []string
		path      string
		cacheLine bool
	}{
		{args: []string{"prune"}, path: "POST /api/v1/prune"},
		{args: []string{"prune", "--build-cache"}, path: "POST /api/v1/prune?build_cache=true", cacheLine: true},
	} {
		asked = nil
		var out, errOut bytes.Buffer
		if code := Main(tc.args, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d\n%s", tc.args, code, errOut.String())
		}
		if len(asked) != 1 || asked[0] != tc.path {
			t.Errorf("%v asked %v, want %s", tc.args, asked, tc.path)
		}
		if !strings.Contains(out.String(), "removed 1 image(s) and 0 container(s)") {
			t.Errorf("%v output:\n%s", tc.args, out.String())
		}
		if got := strings.Contains(out.String(), "removed the build cache mounts (RUN --mount=type=cache) of every app, freed 3.0 MiB"); got != tc.cacheLine {
			t.Errorf("%v: build cache line printed %v, want %v:\n%s", tc.args, got, tc.cacheLine, out.String())
		}
	}
}
