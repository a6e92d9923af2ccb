package api

import (
	"fmt"
	"io"
	"net/http"
)

// route is one entry of the server's table: a ServeMux pattern, the
// permission it needs, its handler and its audit. Every route is here
// and declares its permission; perms_test.go holds each one against a
// statement of who may call it, so a route cannot be added without that
// decision.
type route struct {
	pattern string
	perm    perm
	h       handlerFunc
	// audit names the route's action in the audit log and the body
	// fields it keeps (audit.go); every route that changes something
	// has one.
	audit audit
}

// routes is the server's table of routes.
func (s *Server) routes() []route {
	return []route{
		{"GET /healthz", permPublic, healthz, reads},
		{"POST /hooks/{app}", permPublic, s.handleHook, act("webhook_build")}, // the push's signature is its credential
		{"GET /metrics", permMetrics, s.serveMetrics, reads},

		{"GET /api/v1/apps", permReadList, s.listApps, reads},
		{"GET /api/v1/status", permReadList, s.statusAll, reads},
		{"GET /api/v1/status/events", permReadList, s.statusEvents, reads}, // live.go: server-sent events
		{"GET /api/v1/apps/{app}/envs/{env}/status", permRead, s.status, reads},
		{"GET /api/v1/apps/{app}/envs/{env}/releases", permRead, s.releases, reads},
		{"GET /api/v1/apps/{app}/envs/{env}/deployments", permRead, s.deployments, reads},
		{"GET /api/v1/deployments/{id}", permReadDepl, s.deployment, reads},
		{"GET /api/v1/deployments/{id}/progress", permReadDepl, s.deploymentProgress, reads}, // live.go: server-sent events
		{"GET /api/v1/apps/{app}/envs/{env}/logs", permRead, s.logs, reads},
		{"GET /api/v1/apps/{app}/envs/{env}/volumes", permRead, s.volumes, reads},
		{"GET /api/v1/apps/{app}/envs/{env}/events", permRead, s.events, reads},
		{"GET /api/v1/apps/{app}/envs/{env}/traffic", permRead, s.traffic, reads},              // traffic.go: the console's charts
		{"GET /api/v1/apps/{app}/envs/{env}/jobs", permRead, s.listJobs, reads},                // jobs.go
		{"GET /api/v1/apps/{app}/envs/{env}/jobs/{job}/runs", permRead, s.jobRuns, reads},      // jobs.go
		{"GET /api/v1/apps/{app}/envs/{env}/jobs/{job}/runs/{run}", permRead, s.jobRun, reads}, // jobs.go
		{"GET /api/v1/apps/{app}/envs/{env}/backups", permRead, s.listBackups, reads},          // backups.go
		{"GET /api/v1/apps/{app}/builds", permRead, s.listBuilds, reads},
		{"GET /api/v1/builds/{id}", permReadBuild, s.getBuild, reads},
		{"GET /api/v1/builds/{id}/logs", permReadBuild, s.buildLogs, reads},

		// What berth deploy sends: the configuration it interpolates,
		// the bind check and project files, the builds, the deploy.
		{"GET /api/v1/apps/{app}/envs/{env}/config", permReadConfig, s.getConfig, reads},
		{"POST /api/v1/apps/{app}/envs/{env}/check", permDeploy, s.check, act("deploy_check")},   // binds.go
		{"PUT /api/v1/apps/{app}/envs/{env}/binds", permDeploy, s.putBinds, act("binds_upload")}, // binds.go
		{"POST /api/v1/apps/{app}/builds", permBuild, s.build, act("build_start")},
		{"GET /api/v1/apps/{app}/connection", permReadConfig, s.connection, reads},                                       // branch.go
		{"POST /api/v1/apps/{app}/envs/{env}/deploy-branch", permDeploy, s.deployBranch, act("branch_deploy", "branch")}, // branch.go
		{"POST /api/v1/apps/{app}/envs/{env}/deploy", permDeploy, s.deploy, act("deploy")},
		{"POST /api/v1/apps/{app}/envs/{env}/compose/check", permDeploy, s.checkCompose, act("compose_check")}, // compose.go: an uploaded file
		{"POST /api/v1/apps/{app}/envs/{env}/compose", permDeploy, s.deployCompose, act("deploy_upload")},

		{"POST /api/v1/apps/{app}/envs/{env}/rollback", permOperate, s.rollback, act("rollback", "to", "replace_stateful")},
		{"POST /api/v1/apps/{app}/envs/{env}/promote", permOperate, s.promote, act("promote")},
		{"PUT /api/v1/apps/{app}/envs/{env}/canary", permOperate, s.canaryWeight, act("canary_weight", "weight")}, // canary.go
		{"POST /api/v1/apps/{app}/envs/{env}/scale", permOperate, s.scale, act("scale", "services")},
		{"POST /api/v1/apps/{app}/envs/{env}/redeploy", permOperate, s.redeploy, act("redeploy")}, // live.go
		{"POST /api/v1/apps/{app}/envs/{env}/config", permOperate, s.changeConfig, act("config_change", "set", "unset")},
		{"PUT /api/v1/apps/{app}/envs/{env}/secrets/{name}", permOperate, s.setSecret, act("secret_set")},
		{"DELETE /api/v1/apps/{app}/envs/{env}/secrets/{name}", permOperate, s.unsetSecret, act("secret_unset")},
		{"POST /api/v1/apps/{app}/envs/{env}/run", permOperate, s.run, act("run", "service", "command")},
		{"POST /api/v1/apps/{app}/envs/{env}/jobs/{job}/runs", permOperate, s.runJob, act("job_run")},                        // jobs.go
		{"POST /api/v1/apps/{app}/envs/{env}/backups", permOperate, s.makeBackup, act("backup", "volume")},                   // backups.go
		{"POST /api/v1/apps/{app}/envs/{env}/restore", permOperate, s.restore, act("restore", "backup", "volume", "to_env")}, // and the target env: restore
		{"POST /api/v1/apps/{app}/envs/{env}/clone", permOperate, s.clone, act("env_clone", "to", "hosts", "volumes")},       // and the target env: clone
		{"PUT /api/v1/apps/{app}/envs/{env}/maintenance", permOperate, s.maintenance, act("maintenance", "on")},
		{"POST /api/v1/builds/{id}/cancel", permCancelBuild, s.cancelBuild, act("build_cancel")},

		{"DELETE /api/v1/apps/{app}/envs/{env}", permAdminApp, s.removeEnv, act("env_remove", "volumes")},
		{"DELETE /api/v1/apps/{app}", permAdminApp, s.removeApp, act("app_remove", "volumes")},
		{"POST /api/v1/apps/{app}/connect", permAdminApp, s.connect, act("app_connect", "repo", "file", "branches")},
		{"GET /api/v1/apps/{app}/notifications", permAdminApp, s.getNotifications, reads},
		{"PUT /api/v1/apps/{app}/notifications", permAdminApp, s.setNotifications, act("notify_set")},
		{"POST /api/v1/prune", permAdmin, s.prune, act("prune")},
		{"GET /api/v1/registries", permAdmin, s.listRegistries, reads},
		{"GET /api/v1/backup-destinations", permAdmin, s.listBackupDestinations, reads},                                                                              // backups.go
		{"POST /api/v1/backup-destinations", permAdmin, s.addBackupDestination, act("backup_destination_add", "name", "endpoint", "bucket", "prefix", "access_key")}, // never the secret key
		{"POST /api/v1/registries", permAdmin, s.addRegistry, act("registry_add", "server", "username")},
		{"GET /api/v1/nodes", permAdmin, s.nodes, reads},
		{"PUT /api/v1/nodes/{node}", permAdmin, s.setNode, act("node_set", "availability")},
		{"GET /api/v1/tokens", permAdmin, s.listTokens, reads},                                                               // tokens.go
		{"POST /api/v1/tokens", permAdmin, s.createToken, act("token_create", "name", "role", "apps", "envs", "expires_in")}, // tokens.go
		{"DELETE /api/v1/tokens/{name}", permAdmin, s.revokeToken, act("token_revoke")},                                      // tokens.go
		{"GET /api/v1/audit", permAdmin, s.listAudit, reads},                                                                 // audit_list.go
		{"GET /api/v1/users", permAdmin, s.listUsers, reads},                                                                 // users.go
		{"POST /api/v1/users", permAdmin, s.addUser, act("user_add", "name", "role", "apps", "envs")},                        // users.go; never the password
		{"DELETE /api/v1/users/{name}", permAdmin, s.removeUser, act("user_remove")},                                         // users.go
		{"PUT /api/v1/users/{name}/password", permAdmin, s.setPassword, act("user_passwd")},                                  // users.go
		{"GET /api/v1/server", permAdmin, s.serverInfo, reads},                                                               // server_info.go
		{"POST /api/v1/server/restart", permAdmin, s.restartServer, act("server_restart")},                                   // server_info.go

		// Console sessions (sessions.go). Signing in is public: the
		// name and password (or a token) are its credentials, and its
		// handler records it. The others serve any signed-in caller: a user
		// sees and ends its own sessions, an admin everyone's.
		{"POST /api/v1/session", permPublic, s.signIn, act("sign_in")},
		{"GET /api/v1/session", permSession, s.whoAmI, reads},
		{"DELETE /api/v1/session", permSession, s.signOut, act("sign_out")},
		{"GET /api/v1/sessions", permSession, s.listSessions, reads},
		{"DELETE /api/v1/sessions/{id}", permSession, s.revokeSession, act("session_revoke")},

		// Any other API path: "no such route", once the token is valid.
		{"/api/", permAuthenticated, noRoute, reads},
	}
}

// Handler returns the API's HTTP handler.
func (s *Server) Handler() http.Handler {
	return s.mux(func(rt route) handlerFunc { return rt.h })
}

// mux registers the table's routes, each guarded by its permission,
// with the handler that handler picks for it (the route's own, or a
// test's stand-in).
func (s *Server) mux(handler func(route) handlerFunc) *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.guard(rt, handler(rt)))
	}
	return mux
}

func healthz(w http.ResponseWriter, r *http.Request) error {
	_, _ = io.WriteString(w, "ok\n")
	return nil
}

func noRoute(w http.ResponseWriter, r *http.Request) error {
	return &Error{Status: http.StatusNotFound, Err: fmt.Errorf("no API route %s %s", r.Method, r.URL.Path)}
}

// serveMetrics serves Prometheus's /metrics.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.metrics == nil {
		return &Error{Status: http.StatusNotFound, Err: fmt.Errorf("this server serves no metrics")}
	}
	s.metrics.ServeHTTP(w, r)
	return nil
}
