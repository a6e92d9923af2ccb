package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

func TestNotify_DeploysAreToldAndASlowReceiverBlocksNothing(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	var mu sync.Mutex
	var kinds []string
	var slack []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/slack" {
			slack = append(slack, string(b))
			return
		}
		var ev struct{ Kind string }
		_ = json.Unmarshal(b, &ev)
		kinds = append(kinds, ev.Kind)
	}))
	defer recv.Close()
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer slow.Close()
	defer close(hang)

	for _, args := range [][]string{
		{"notify", "add", name, "webhook", recv.URL + "/hook"},
		{"notify", "add", name, "slack", recv.URL + "/slack"},
		{"notify", "add", name, "webhook", slow.URL},
	} {
		if code, out, errOut := s.berth(t, args...); code != 0 {
			t.Fatalf("%v: %s %s", args, out, errOut)
		}
	}
	start := time.Now()
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	_, _ = s.deploy(t, loadApp(t, name, host, appOpts{Version: "bad", Replicas: 1, Env: map[string]string{"CRASH": "1"}}))
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v2", Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.rollback(t, name, 0); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("deploys took %s: a hanging receiver slowed them", took)
	}
	testutil.Eventually(t, 10*time.Second, "four notifications", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(kinds) == 4 && len(slack) == 4
	})
	mu.Lock()
	defer mu.Unlock()
	sort.Strings(kinds) // deliveries run concurrently: compare as a set
	if strings.Join(kinds, ",") != "deploy_failed,deploy_succeeded,deploy_succeeded,rollback" {
		t.Fatalf("kinds: %v", kinds)
	}
	all := strings.Join(slack, "\n")
	if !strings.Contains(all, "Deploy failed") || !strings.Contains(all, "Rolled back") || !strings.Contains(all, name+"/production") {
		t.Fatalf("slack texts: %s", all)
	}
}
