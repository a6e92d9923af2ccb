package api

import (
	"net/http"
	"strings"
	"testing"
)

// berth secrets set on an app that does not exist is a 404 that says
// what to do, and creates no app; with --new-app (a secret the app's
// first deploy needs) it is stored.
func TestServer_SecretOfAnUnknownAppIsRefused(t *testing.T) {
	t.Parallel()
	e := newTokenEnv(t)
	code, body := e.call(t, testToken, http.MethodPut, "/api/v1/apps/typo/envs/production/secrets/KEY", "value")
	if code != http.StatusNotFound || !strings.Contains(body, `app \"typo\": not found: check the name, or give --new-app`) {
		t.Errorf("%d %s", code, body)
	}
	if apps, _ := e.st.ListApps(); len(apps) != 0 {
		t.Errorf("the refused secret created %+v", apps)
	}
	if code, body := e.call(t, testToken, http.MethodPut, "/api/v1/apps/new/envs/production/secrets/KEY?new_app=true", "value"); code != http.StatusOK {
		t.Errorf("with new_app: %d %s", code, body)
	}
	if names, err := e.st.SecretNames("new", "production"); err != nil || len(names) != 1 {
		t.Errorf("with new_app: secrets %v, %v", names, err)
	}
}
