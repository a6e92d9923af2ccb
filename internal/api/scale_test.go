package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A scale request that is not JSON, names a service twice or names none
// is a 400 saying what is wrong, before anything runs.
func TestServer_ScaleBadRequests(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"services":`: "read scale request",
		`{"services":[{"service":"web","replicas":2},{"service":"web","replicas":3}]}`: `service "web" is named twice`,
		`{"services":[{"replicas":2}]}`: "by name",
	} {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/apps/shop/envs/production/scale", strings.NewReader(body))
		req.SetPathValue("app", "shop")
		req.SetPathValue("env", "production")
		err := (&Server{}).scale(httptest.NewRecorder(), req)
		if got := statusOf(err); err == nil || got != http.StatusBadRequest || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: status %d (%v), want 400 saying %q", body, got, err, want)
		}
	}
}
