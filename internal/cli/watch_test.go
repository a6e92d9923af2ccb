package cli

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// berth watch prints a deployment's progress from its stream as berth
// deploy does, then its outcome; one that did not go live exits
// non-zero with why; a deployment number is checked.
func TestWatch_FollowsADeployment(t *testing.T) {
	run := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || (r.URL.Path != "/api/v1/deployments/4/progress" && r.URL.Path != "/api/v1/deployments/5/progress") {
			unexpected(w)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: 0\nevent: progress\ndata: {\"elapsed\":10000000,\"message\":\"rolling shop/production back from release 3 to release 2\"}\n\n")
		fmt.Fprint(w, ": keepalive\n\n")
		if r.URL.Path == "/api/v1/deployments/4/progress" {
			fmt.Fprint(w, "event: result\ndata: {\"ok\":true,\"deployment\":{\"id\":4,\"app\":\"shop\",\"env\":\"production\",\"kind\":\"rollback\",\"release_id\":2,\"status\":\"succeeded\",\"counted\":true,\"served\":48211,\"failed\":0,\"started_at\":\"2026-03-01T12:00:00Z\",\"ended_at\":\"2026-03-01T12:00:01.42Z\"}}\n\n")
			return
		}
		fmt.Fprint(w, "event: result\ndata: {\"ok\":false,\"error\":\"release 2 never got healthy\",\"deployment\":{\"id\":5,\"status\":\"failed\"}}\n\n")
	})
	out, _ := mustRun(t, run, "watch", "4")
	for _, want := range []string{"   0.01s  rolling shop/production back from release 3 to release 2", "served 48,211 requests during the rollback, 0 failed", "release 2 of shop/production is live (1.42s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("berth watch 4 lacks %q:\n%s", want, out)
		}
	}
	if r := run("", "watch", "5"); r.code == 0 || !strings.Contains(r.errOut, "never got healthy") {
		t.Errorf("a failed deployment: %+v", r)
	}
	if r := run("", "watch", "x"); r.code == 0 || !strings.Contains(r.errOut, "deployment number") {
		t.Errorf("a bad number: %+v", r)
	}
}
