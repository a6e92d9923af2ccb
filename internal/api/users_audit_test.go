package api

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/store"
)

// A scripted session of users — added, a failed sign-in, a sign-in, a
// sign-out, a revocation, a new password, a removal — leaves exactly
// those entries in the audit log with the user names as actors; no
// marker password (right or wrong) nor session secret is in the store's
// file, the log, the audit log or any answer.
func TestUsers_AuditedAndNothingSecretLeaks(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	e := newUserEnv(t, &logs)
	const marker, wrongMarker, newMarker = "pw-MARKER-3f9a2c1d", "pw-WRONG-MARKER-77aa", "pw-NEW-MARKER-0b1c9e"
	var answers []string
	do := func(q req) *httptest.ResponseRecorder {
		w := e.do(t, q)
		answers = append(answers, w.Body.String()+strings.Join(w.Result().Header.Values("Set-Cookie"), ";"))
		return w
	}
	do(req{method: "POST", path: "/api/v1/users", body: dto.UserRequest{Name: "ann", Role: "deployer", Apps: []string{"shop"}, Password: marker}, token: testToken})
	do(req{method: "POST", path: "/api/v1/users", body: dto.UserRequest{Name: "bob", Role: "viewer", Password: "short"}, token: testToken})
	do(req{method: "POST", path: "/api/v1/session", body: dto.SignInRequest{Name: "ann", Password: wrongMarker}, addr: "198.51.100.7"})
	cookie, csrf := e.signIn(t, "ann", marker, "")
	do(req{method: "GET", path: "/api/v1/apps", cookie: cookie})
	do(req{method: "DELETE", path: "/api/v1/session", cookie: cookie, csrf: csrf})
	second, _ := e.signIn(t, "ann", marker, "")
	sessions, _ := e.st.ListSessions("ann")
	do(req{method: "DELETE", path: "/api/v1/sessions/" + sessions[0].ID, token: testToken})
	do(req{method: "PUT", path: "/api/v1/users/ann/password", body: dto.PasswordRequest{Password: newMarker}, token: testToken})
	do(req{method: "GET", path: "/api/v1/users", token: testToken})
	if u, _ := e.st.GetUser("ann"); !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("the store holds %q, not an argon2id hash", u.PasswordHash)
	}
	do(req{method: "DELETE", path: "/api/v1/users/ann", token: testToken})

	es, err := e.st.ListAudit(store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(es) - 1; i >= 0; i-- {
		got = append(got, es[i].Actor+" "+es[i].Action+" "+es[i].Outcome)
	}
	want := []string{
		"admin-token user_add ok", "admin-token user_add failed",
		"user:ann sign_in refused", "user:ann sign_in ok", "user:ann sign_out ok", "user:ann sign_in ok",
		"admin-token session_revoke ok", "admin-token user_passwd ok", "admin-token user_remove ok",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := es[len(es)-1-0].Params; p["name"] != "ann" || p["role"] != "deployer" {
		t.Errorf("user_add params %v", p)
	}
	if es[len(es)-3].Source != "198.51.100.7" {
		t.Errorf("the failed sign-in's source: %q", es[len(es)-3].Source)
	}
	db, err := os.ReadFile(filepath.Join(e.dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	audit, _ := json.Marshal(es)
	for where, text := range map[string]string{"the store's file": string(db), "the log": logs.String(),
		"the audit log": string(audit), "an answer": strings.Join(answers, "\n")} {
		for _, secret := range []string{marker, wrongMarker, newMarker, cookie, second} {
			if strings.Contains(text, secret) {
				t.Errorf("%q is in %s", secret, where)
			}
		}
	}
}
