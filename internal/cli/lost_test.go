package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// berth killed while it deployed: the stream ends without a result, and
// the server, back, has the deployment as interrupted. The CLI says so
// and what to do, never that the deployment goes on.
func TestRollback_StreamLostToACrashSaysInterrupted(t *testing.T) {
	for _, tc := range []struct {
		status dto.DeploymentStatus
		want   []string
		code   int
	}{
		{dto.DeploymentInterrupted, []string{"berth stopped while deployment 7 of shop/production ran", "interrupted", "release 3 did not go live, release 4 keeps serving", "run the command again"}, 1},
		{dto.DeploymentRunning, []string{"deployment 7 of shop/production goes on there", "berth status shop --env production"}, 1},
		{dto.DeploymentSucceeded, []string{"release 3 of shop/production is live"}, 0},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			posted := false
			run := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodGet && r.URL.Path == "/api/v1/apps/shop/envs/production/deployments" && !posted:
					_ = json.NewEncoder(w).Encode([]dto.Deployment{{ID: 6, App: "shop", Env: "production", Kind: "deploy", ReleaseID: 4, Status: dto.DeploymentSucceeded}})
				case r.Method == http.MethodPost && r.URL.Path == "/api/v1/apps/shop/envs/production/rollback":
					posted = true
					_ = json.NewEncoder(w).Encode(dto.StreamEvent{Progress: &dto.Progress{Message: "rolling back shop"}})
					// and the server dies: no result
				case r.Method == http.MethodGet && r.URL.Path == "/api/v1/apps/shop/envs/production/deployments":
					now := time.Now()
					_ = json.NewEncoder(w).Encode([]dto.Deployment{{ID: 7, App: "shop", Env: "production", Kind: "rollback", ReleaseID: 3, FromReleaseID: 4,
						Status: tc.status, Error: map[dto.DeploymentStatus]string{dto.DeploymentInterrupted: "berth stopped while this deployment ran"}[tc.status],
						StartedAt: now.Add(-time.Second), EndedAt: now}})
				case r.Method == http.MethodGet && r.URL.Path == "/api/v1/apps/shop/envs/production/releases":
					_ = json.NewEncoder(w).Encode([]dto.Release{{ID: 4, Status: dto.StatusLive}, {ID: 3, Status: dto.StatusFailed}})
				default:
					unexpected(w)
				}
			})
			r := run("", "rollback", "shop")
			all := r.out + r.errOut
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%s", r.code, tc.code, all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			if tc.status == dto.DeploymentInterrupted && strings.Contains(all, "goes on") {
				t.Errorf("says the interrupted deployment goes on:\n%s", all)
			}
		})
	}
}

// berth killed before the request began a deployment: the newest the
// server has is the one from before, which is not the request's.
func TestRollback_StreamLostBeforeADeploymentBegan(t *testing.T) {
	run := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/apps/shop/envs/production/deployments":
			_ = json.NewEncoder(w).Encode([]dto.Deployment{{ID: 6, App: "shop", Env: "production", Kind: "deploy", ReleaseID: 4, Status: dto.DeploymentSucceeded}})
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/apps/shop/envs/production/rollback":
			// the server dies before it answers anything
		default:
			unexpected(w)
		}
	})
	r := run("", "rollback", "shop")
	all := r.out + r.errOut
	if r.code == 0 || !strings.Contains(all, "began no deployment of shop/production: nothing changed, run the command again") || strings.Contains(all, "is live") {
		t.Errorf("exit %d:\n%s", r.code, all)
	}
}
