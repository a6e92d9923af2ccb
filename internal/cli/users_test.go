package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// berth users add sends the name, role, scope and the password read
// from standard input with --password-stdin; list prints a table (or
// JSON); remove and passwd say how many sessions ended. No password is
// printed.
func TestUsers_AddListRemovePasswd(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ann := dto.User{Name: "ann", Role: "deployer", Apps: []string{"shop"}, CreatedAt: created, LastSignInAt: created.Add(time.Hour), LastSignInFrom: "10.0.0.7"}
	var added dto.UserRequest
	var passwd dto.PasswordRequest
	srvRun := serveAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "POST /api/v1/users":
			_ = json.NewDecoder(r.Body).Decode(&added)
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(ann)
		case "GET /api/v1/users":
			_ = json.NewEncoder(w).Encode([]dto.User{ann, {Name: "bob", Role: "admin", CreatedAt: created}})
		case "DELETE /api/v1/users/ann":
			_ = json.NewEncoder(w).Encode(dto.UserChange{User: ann, SessionsEnded: 2})
		case "PUT /api/v1/users/ann/password":
			_ = json.NewDecoder(r.Body).Decode(&passwd)
			_ = json.NewEncoder(w).Encode(dto.UserChange{User: ann, SessionsEnded: 1})
		default:
			unexpected(w)
		}
	})
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		r := srvRun(stdin, args...)
		return r.out, r.errOut, r.code
	}
	const pw = "a long passphrase"
	out, errOut, code := run(pw+"\n", "users", "add", "ann", "--role", "deployer", "--app", "shop", "--password-stdin")
	if code != 0 || !strings.Contains(out, "added user ann (role deployer, apps shop)") {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	if added.Name != "ann" || added.Role != "deployer" || len(added.Apps) != 1 || added.Password != pw {
		t.Errorf("add sent %+v", added)
	}
	if strings.Contains(out+errOut, pw) {
		t.Error("the password was printed")
	}
	if _, errOut, code := run("short\n", "users", "add", "x", "--role", "viewer", "--password-stdin"); code == 0 || !strings.Contains(errOut, "at least 12") {
		t.Errorf("a short password: %d %s", code, errOut)
	}
	if _, errOut, code := run("", "users", "add", "x", "--role", "viewer"); code == 0 || !strings.Contains(errOut, "--password-stdin") {
		t.Errorf("no terminal, no --password-stdin: %d %s", code, errOut)
	}
	out, _, _ = run("", "users", "list")
	for _, want := range []string{"NAME", "LAST SIGN-IN", "ann", "apps shop", "2026-03-01 13:00Z", "10.0.0.7", "bob", "every app", "never"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = run("", "users", "list", "--output", "json")
	var us []dto.User
	if err := json.Unmarshal([]byte(out), &us); err != nil || len(us) != 2 || us[0].LastSignInFrom != "10.0.0.7" {
		t.Errorf("list --output json: %v\n%s", err, out)
	}
	if out, _, _ = run("", "users", "remove", "ann"); !strings.Contains(out, "removed user ann; 2 sessions ended") {
		t.Errorf("remove: %s", out)
	}
	if out, _, _ = run("a new passphrase!\n", "users", "passwd", "ann", "--password-stdin"); !strings.Contains(out, "set the password of ann; 1 session ended") || passwd.Password != "a new passphrase!" {
		t.Errorf("passwd: %s, sent %+v", out, passwd)
	}
}

// From a terminal the password is asked twice; two different answers
// are refused.
func TestUsers_PasswordFromTheTerminalTwice(t *testing.T) {
	t.Parallel()
	answers := func(a ...string) func() ([]byte, error) {
		return func() ([]byte, error) {
			if len(a) == 0 {
				return nil, errors.New("no more")
			}
			s := a[0]
			a = a[1:]
			return []byte(s), nil
		}
	}
	var prompts bytes.Buffer
	if pw, err := readNewPassword(nil, &prompts, false, answers("twelve chars!", "twelve chars!")); err != nil || pw != "twelve chars!" {
		t.Errorf("the same twice: %q, %v", pw, err)
	}
	if !strings.Contains(prompts.String(), "not echoed") || !strings.Contains(prompts.String(), "again") {
		t.Errorf("prompts: %q", prompts.String())
	}
	if _, err := readNewPassword(nil, &prompts, false, answers("twelve chars!", "twelve chars?")); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("two different: %v", err)
	}
}
