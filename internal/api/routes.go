package api

import (
	"fmt"
	"io"
	"net/http"
)

// route is one entry of the server's table: a ServeMux pattern, the
// permission it needs and its handler. Every route is here and declares
// its permission; perms_test.go holds each one against a statement of
// who may call it, so a route cannot be added without that decision.
type route struct {
	pattern string
	perm    perm
	h       handlerFunc
}

// routes is the server's table of routes.
func (s *Server) routes() []route {
	return []route{
		{"GET /healthz", permPublic, healthz},
		{"POST /hooks/{app}", permPublic, s.handleHook}, // the push's signature is its credential
		{"GET /metrics", permMetrics, s.serveMetrics},

		{"GET /api/v1/apps", permReadList, s.listApps},
		{"GET /api/v1/status", permReadList, s.statusAll},
		{"GET /api/v1/apps/{app}/envs/{env}/status", permRead, s.status},
		{"GET /api/v1/apps/{app}/envs/{env}/releases", permRead, s.releases},
		{"GET /api/v1/apps/{app}/envs/{env}/deployments", permRead, s.deployments},
		{"GET /api/v1/deployments/{id}", permReadDepl, s.deployment},
		{"GET /api/v1/apps/{app}/envs/{env}/logs", permRead, s.logs},
		{"GET /api/v1/apps/{app}/envs/{env}/volumes", permRead, s.volumes},
		{"GET /api/v1/apps/{app}/envs/{env}/events", permRead, s.events},
		{"GET /api/v1/apps/{app}/builds", permRead, s.listBuilds},
		{"GET /api/v1/builds/{id}", permReadBuild, s.getBuild},
		{"GET /api/v1/builds/{id}/logs", permReadBuild, s.buildLogs},

		// What berth deploy sends: the configuration it interpolates,
		// the bind check and project files, the builds, the deploy.
		{"GET /api/v1/apps/{app}/envs/{env}/config", permReadConfig, s.getConfig},
		{"POST /api/v1/apps/{app}/envs/{env}/check", permDeploy, s.check},   // binds.go
		{"PUT /api/v1/apps/{app}/envs/{env}/binds", permDeploy, s.putBinds}, // binds.go
		{"POST /api/v1/apps/{app}/builds", permBuild, s.build},
		{"POST /api/v1/apps/{app}/envs/{env}/deploy", permDeploy, s.deploy},

		{"POST /api/v1/apps/{app}/envs/{env}/rollback", permOperate, s.rollback},
		{"POST /api/v1/apps/{app}/envs/{env}/promote", permOperate, s.promote},
		{"POST /api/v1/apps/{app}/envs/{env}/config", permOperate, s.changeConfig},
		{"PUT /api/v1/apps/{app}/envs/{env}/secrets/{name}", permOperate, s.setSecret},
		{"DELETE /api/v1/apps/{app}/envs/{env}/secrets/{name}", permOperate, s.unsetSecret},
		{"POST /api/v1/apps/{app}/envs/{env}/run", permOperate, s.run},
		{"POST /api/v1/apps/{app}/envs/{env}/clone", permOperate, s.clone}, // and the target env: clone
		{"PUT /api/v1/apps/{app}/envs/{env}/maintenance", permOperate, s.maintenance},
		{"POST /api/v1/builds/{id}/cancel", permCancelBuild, s.cancelBuild},

		{"DELETE /api/v1/apps/{app}/envs/{env}", permAdminApp, s.removeEnv},
		{"DELETE /api/v1/apps/{app}", permAdminApp, s.removeApp},
		{"POST /api/v1/apps/{app}/connect", permAdminApp, s.connect},
		{"GET /api/v1/apps/{app}/notifications", permAdminApp, s.getNotifications},
		{"PUT /api/v1/apps/{app}/notifications", permAdminApp, s.setNotifications},
		{"POST /api/v1/prune", permAdmin, s.prune},
		{"GET /api/v1/registries", permAdmin, s.listRegistries},
		{"POST /api/v1/registries", permAdmin, s.addRegistry},
		{"GET /api/v1/nodes", permAdmin, s.nodes},
		{"PUT /api/v1/nodes/{node}", permAdmin, s.setNode},
		{"GET /api/v1/tokens", permAdmin, s.listTokens},            // tokens.go
		{"POST /api/v1/tokens", permAdmin, s.createToken},          // tokens.go
		{"DELETE /api/v1/tokens/{name}", permAdmin, s.revokeToken}, // tokens.go

		// Any other API path: "no such route", once the token is valid.
		{"/api/", permAuthenticated, noRoute},
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
		mux.Handle(rt.pattern, s.guard(rt.perm, handler(rt)))
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
