package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Role is what a token may do; its scope (apps, environments) says where.
type Role string

// The roles. Every route's permission (routes.go) lists the roles that
// hold it.
const (
	// RoleAdmin may do everything, tokens included; it is never scoped.
	RoleAdmin Role = "admin"
	// RoleDeployer deploys and operates its apps: rollback, promote,
	// config, secrets, maintenance, run, env clone.
	RoleDeployer Role = "deployer"
	// RoleViewer reads its apps: status, releases, deployments, logs,
	// events, builds, metrics. It changes nothing.
	RoleViewer Role = "viewer"
	// RoleCI starts builds and deploys of its apps (and reads the
	// configuration a deploy interpolates), nothing else.
	RoleCI Role = "ci"
)

// allRoles are the roles, most powerful first.
var allRoles = []Role{RoleAdmin, RoleDeployer, RoleViewer, RoleCI}

// target is where a route's app and environment come from, for the
// scope check.
type target int

const (
	// targetPath: the {app} and {env} path values ({env} may be absent:
	// the route is about the whole app). A deploy's body must name the
	// path's app (readApp), so the app checked is the app deployed.
	targetPath target = iota
	// targetDeployment, targetBuild: the app and env of the deployment
	// or build whose {id} the path holds.
	targetDeployment
	targetBuild
	// targetList: a listing of every app; the handler shows a scoped
	// token only the apps of its scope.
	targetList
	// targetServer: the server as a whole (every app's data, or no
	// app's): a scoped token is refused.
	targetServer
)

// perm is the permission a route needs: the roles that hold it and what
// its request is about.
type perm struct {
	// what the permission allows, for refusals: "deploy", "read".
	what   string
	roles  []Role
	target target
	// public routes need no credentials: /healthz, and the push webhook
	// (its signature is its credential).
	public bool
	// fromAllowed lets the addresses of Options.MetricsAllow in without
	// credentials (/metrics, for Prometheus).
	fromAllowed bool
}

var (
	readers   = []Role{RoleAdmin, RoleDeployer, RoleViewer}
	deployers = []Role{RoleAdmin, RoleDeployer, RoleCI}
	operators = []Role{RoleAdmin, RoleDeployer}
	admins    = []Role{RoleAdmin}
	anyRole   = allRoles
)

// The permissions of the routes.
var (
	permPublic      = perm{what: "reach public routes", public: true}
	permMetrics     = perm{what: "read the metrics of every app", roles: readers, target: targetServer, fromAllowed: true}
	permRead        = perm{what: "read", roles: readers}
	permReadList    = perm{what: "list apps", roles: readers, target: targetList}
	permReadDepl    = perm{what: "read deployments", roles: readers, target: targetDeployment}
	permReadBuild   = perm{what: "read builds", roles: readers, target: targetBuild}
	permReadConfig  = perm{what: "read configuration", roles: deployers}
	permDeploy      = perm{what: "deploy", roles: deployers}
	permBuild       = perm{what: "build", roles: deployers}
	permOperate     = perm{what: "change", roles: operators}
	permCancelBuild = perm{what: "cancel builds", roles: operators, target: targetBuild}
	permAdmin       = perm{what: "administer the server", roles: admins, target: targetServer}
	permAdminApp    = perm{what: "administer apps", roles: admins}
	// permSession is for a caller's own sessions: anyone signed in (an
	// admin's reach is the handler's to widen).
	permSession = perm{what: "manage sessions", roles: anyRole, target: targetList}
	// permAuthenticated is the unknown-route answer's: it says "no such
	// route" only to a caller with a valid token.
	permAuthenticated = perm{what: "ask", roles: anyRole, target: targetList}
)

// principal is who a request comes from: the admin token, a stored
// token, or a signed-in user's session, with its role and scope.
type principal struct {
	name string
	role Role
	// user and session are a signed-in user's name and session id
	// ("" for a token).
	user, session string
	// csrf is a session's CSRF value (whoAmI tells it to the console).
	csrf string
	// apps and envs scope the principal; empty: every one.
	apps, envs []string
}

func (p principal) scoped() bool { return len(p.apps)+len(p.envs) > 0 }

// allowsApp reports whether app is in p's scope.
func (p principal) allowsApp(app string) bool {
	return len(p.apps) == 0 || slices.Contains(p.apps, app)
}

// allowsEnv reports whether env is in p's scope; "" (a route about the
// whole app) is.
func (p principal) allowsEnv(env string) bool {
	return env == "" || len(p.envs) == 0 || slices.Contains(p.envs, env)
}

// describe is p for refusals: token "ci-shop" (role ci, apps shop).
func (p principal) describe() string {
	scope := "every app"
	if len(p.apps) > 0 {
		scope = "apps " + strings.Join(p.apps, ", ")
	}
	if len(p.envs) > 0 {
		scope += "; environments " + strings.Join(p.envs, ", ")
	}
	if p.user != "" {
		return fmt.Sprintf("user %q (role %s, %s)", p.user, p.role, scope)
	}
	return fmt.Sprintf("token %q (role %s, %s)", p.name, p.role, scope)
}

type principalKey struct{}

func withPrincipal(ctx context.Context, p principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalOf is who sent r; false when r did not pass authentication
// (then nothing is visible to it).
func principalOf(r *http.Request) (principal, bool) {
	p, ok := r.Context().Value(principalKey{}).(principal)
	return p, ok
}

// visible reports whether r's principal may see app (and env, "" for
// the whole app): the filter of listings.
func visible(r *http.Request, app, env string) bool {
	p, ok := principalOf(r)
	return ok && p.allowsApp(app) && p.allowsEnv(env)
}

func forbidden(format string, args ...any) error {
	return &Error{Status: http.StatusForbidden, Err: fmt.Errorf(format, args...)}
}

func rolesText(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// authorize decides whether p may make the request r needing pm: its
// role must hold pm, and what r is about must be in p's scope.
func (s *Server) authorize(r *http.Request, p principal, pm perm) error {
	if !slices.Contains(pm.roles, p.role) {
		return forbidden("%s may not %s: that needs a token of role %s", p.describe(), pm.what, rolesText(pm.roles))
	}
	var app, env string
	switch pm.target {
	case targetList:
		return nil
	case targetServer:
		if p.scoped() {
			return forbidden("%s may not %s: that covers every app, so it needs a token of role %s not scoped to apps or environments", p.describe(), pm.what, rolesText(pm.roles))
		}
		return nil
	case targetPath:
		app, env = r.PathValue("app"), r.PathValue("env")
	case targetDeployment, targetBuild:
		if !p.scoped() {
			return nil // the handler answers a bad or unknown id
		}
		var err error
		if app, env, err = s.recordScope(r, pm.target); err != nil {
			return err
		}
	}
	if !p.allowsApp(app) || !p.allowsEnv(env) {
		where := "app " + app
		if env != "" {
			where += " environment " + env
		}
		return forbidden("%s may not %s %s: that needs a token of role %s whose scope includes it", p.describe(), pm.what, where, rolesText(pm.roles))
	}
	return nil
}

// recordScope is the app and env of the deployment or build r's {id}
// names.
func (s *Server) recordScope(r *http.Request, t target) (app, env string, err error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return "", "", badRequest(fmt.Errorf("id %q is not a number", r.PathValue("id")))
	}
	if t == targetDeployment {
		d, err := s.store.GetDeployment(id)
		if err != nil {
			return "", "", fmt.Errorf("deployment %d: %w", id, err)
		}
		return d.App, d.Env, nil
	}
	b, err := s.store.GetBuild(id)
	if err != nil {
		return "", "", fmt.Errorf("build %d: %w", id, err)
	}
	return b.App, b.Env, nil
}
