package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A definition over the limit is refused with the limit in the message,
// not with the decoder's "unexpected EOF".
func TestServer_DeployBodyOverLimitSaysTheLimit(t *testing.T) {
	t.Parallel()
	body := `{"name":"shop","services":[{"name":"web","image":"` + strings.Repeat("a", MaxAppDefinitionBytes) + `"}]}`
	req := httptest.NewRequest(http.MethodPost, "/api/v1/apps/shop/envs/production/deploy", strings.NewReader(body))
	req.SetPathValue("app", "shop")
	req.SetPathValue("env", "production")
	err := (&Server{}).deploy(httptest.NewRecorder(), req)
	if err == nil {
		t.Fatal("deploy accepted a definition over the limit")
	}
	if got := statusOf(err); got != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413 (%v)", got, err)
	}
	if !strings.Contains(err.Error(), "limit of 8 MiB") {
		t.Errorf("message %q does not say the limit", err)
	}
}

// A definition under the limit that is not JSON is still a 400.
func TestServer_DeployBadJSONIsBadRequest(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/apps/shop/envs/production/deploy", strings.NewReader(`{"name":`))
	req.SetPathValue("app", "shop")
	err := (&Server{}).deploy(httptest.NewRecorder(), req)
	if got := statusOf(err); err == nil || got != http.StatusBadRequest {
		t.Errorf("status %d (%v), want 400", got, err)
	}
}
