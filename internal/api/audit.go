package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/berth-dev/berth/internal/store"
)

// audit is how a route is recorded in the audit log: its action (a
// stable snake_case name; "" for a read, which is recorded only when it
// is refused) and the top-level fields of its JSON body kept as
// parameters. Only fields that hold no secret are listed: never a
// password, a key, a token, a secret's value or a notification URL.
type audit struct {
	action string
	keep   []string
}

// act is the audit of a route that changes something.
func act(action string, keep ...string) audit { return audit{action: action, keep: keep} }

// reads is the audit of a route that changes nothing.
var reads = audit{}

// auditQuery are the query parameters kept; others (a build's request,
// a terminal's size) are left out.
var auditQuery = []string{"replace_stateful", "canary", "new_app", "build_cache", "all"}

// auditPath are the path values kept: names and ids, never a value.
var auditPath = []string{"name", "id", "node"}

// maxAuditBody is the most of a body read for its parameters; a larger
// body is recorded without them.
const maxAuditBody = 1 << 20

// auditor writes audit entries to the store and, when set, as JSON lines
// to a log file.
type auditor struct {
	store *store.Store
	mu    sync.Mutex
	file  io.Writer
	log   *slog.Logger
}

func (a *auditor) write(e store.AuditEntry) {
	if a == nil || a.store == nil {
		return
	}
	// One at a time: the file's lines are in the store's order.
	a.mu.Lock()
	defer a.mu.Unlock()
	e, err := a.store.AppendAudit(e)
	if err != nil {
		a.log.Error("write audit entry", "action", e.Action, "actor", e.Actor, "error", err)
	}
	if a.file == nil {
		return
	}
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	if _, err := a.file.Write(append(line, '\n')); err != nil {
		a.log.Error("write audit log file", "error", err)
	}
}

// auditNote is the audit entry of one request as it is made: the guard
// starts it, the handlers that know more (the deployment a stream
// started, a webhook's build) add to it, and it is written once, when
// the outcome is known.
type auditNote struct {
	a  *auditor
	mu sync.Mutex
	e  store.AuditEntry
	// wanted: the entry is to be written (a public route's only when
	// its handler says so: a webhook that started a build).
	wanted bool
	// held: a stream writes the entry when its deployment ends.
	held, done bool
}

type noteKey struct{}

// noteOf is r's audit note; nil (whose methods do nothing) when r is
// not audited.
func noteOf(r *http.Request) *auditNote {
	n, _ := r.Context().Value(noteKey{}).(*auditNote)
	return n
}

// hold says that the outcome comes later, from settle.
func (n *auditNote) hold() {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.held = true
	n.mu.Unlock()
}

// settle writes the entry of a request whose deployment dep (0: none)
// ended with err, answered with status.
func (n *auditNote) settle(dep int64, status int, err error) {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.e.Deployment = dep
	n.mu.Unlock()
	n.finish(err, status, true)
}

// end writes the entry of a request whose handler returned err, unless
// a stream holds it.
func (n *auditNote) end(err error) {
	if err != nil {
		n.finish(err, statusOf(err), false)
	} else {
		n.finish(nil, 0, false)
	}
}

// finish writes the entry once: ok, or failed or refused (by status)
// with err.
func (n *auditNote) finish(err error, status int, settling bool) {
	if n == nil {
		return
	}
	n.mu.Lock()
	if n.done || !n.wanted || (n.held && !settling) {
		n.mu.Unlock()
		return
	}
	n.done = true
	e := n.e
	n.mu.Unlock()
	e.Outcome = store.AuditOK
	if err != nil {
		e.Status = status
		e.Outcome = store.AuditFailed
		if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusTooManyRequests {
			e.Outcome = store.AuditRefused
		}
		e.Error = err.Error()
	}
	n.a.write(e)
}

// webhook records that a delivery from provider started build b of
// environment env.
func (n *auditNote) webhook(provider, env string, b int64, params map[string]string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wanted, n.e.Actor, n.e.Env, n.e.Build = true, "webhook:"+provider, env, b
	for k, v := range params {
		n.param(k, v)
	}
}

// hookRefused records a delivery from provider ("" when unknown) whose
// signature did not verify.
func (n *auditNote) hookRefused(provider string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wanted, n.e.Actor = true, "webhook"
	if provider != "" {
		n.e.Actor += ":" + provider
	}
}

// signIn records a sign-in attempt (a public route's) for user name;
// never its password.
func (n *auditNote) signIn(name string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wanted, n.e.Actor = true, "user:"+name
}

// signInToken records a token sign-in attempt as the token's (name ""
// when no token matched); never the token.
func (n *auditNote) signInToken(name string) {
	if n == nil {
		return
	}
	if name == "" {
		name = "(unknown token)"
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wanted, n.e.Actor = true, name
}

// build records the build the request started.
func (n *auditNote) build(id int64) {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.e.Build = id
	n.mu.Unlock()
}

func (n *auditNote) param(k, v string) {
	if n.e.Params == nil {
		n.e.Params = map[string]string{}
	}
	n.e.Params[k] = v
}

// startAudit begins r's note for route rt, before authentication.
func (s *Server) startAudit(rt route, r *http.Request) (*http.Request, *auditNote) {
	n := &auditNote{a: s.audit, wanted: rt.audit.action != "" && !rt.perm.public}
	n.e = store.AuditEntry{Time: s.now(), Source: remoteHost(r), Action: rt.audit.action,
		App: r.PathValue("app"), Env: r.PathValue("env")}
	if n.e.Action == "" {
		n.e.Action = "read"
		n.param("path", r.URL.Path)
	}
	for _, k := range auditPath {
		if v := r.PathValue(k); v != "" {
			n.param(k, v)
		}
	}
	q := r.URL.Query()
	for _, k := range auditQuery {
		if q.Has(k) {
			n.param(k, q.Get(k))
		}
	}
	return r.WithContext(context.WithValue(r.Context(), noteKey{}, n)), n
}

// refused records a request that did not pass authentication or
// authorization: every refusal of a change, and a read's refusal when it
// sent a token (a wrong, expired or revoked one, or one without the
// permission). A read without credentials is not recorded.
func (n *auditNote) refused(rt route, r *http.Request, actor string, err error) {
	if rt.perm.public {
		return
	}
	if !sentCredentials(r) && rt.audit.action == "" {
		return
	}
	n.mu.Lock()
	n.wanted, n.e.Actor = true, actor
	n.mu.Unlock()
	n.end(err)
}

// admitted records who r is from and reads the kept fields of its body.
func (n *auditNote) admitted(rt route, r *http.Request, actor string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.e.Actor = actor
	if len(rt.audit.keep) == 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAuditBody+1))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	if err != nil || len(b) > maxAuditBody {
		return
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) != nil {
		return
	}
	for _, k := range rt.audit.keep {
		v, ok := fields[k]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			n.param(k, s)
			continue
		}
		var buf bytes.Buffer
		if json.Compact(&buf, v) == nil {
			n.param(k, buf.String())
		}
	}
}
