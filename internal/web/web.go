package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is the policy of every console response: berth's
// own scripts, styles, images and connections only; no inline script or
// style, no frames, no forms posted elsewhere.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Options configures the console.
type Options struct {
	// API is the API's handler: the console's pages ask it who is
	// signed in, and every path that is not the console's goes to it.
	API    http.Handler
	Logger *slog.Logger
}

// Console serves the console's pages and assets.
type Console struct {
	api   http.Handler
	pages *pages
	log   *slog.Logger
}

// New returns the console.
func New(o Options) (*Console, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &Console{api: o.API, pages: p, log: o.Logger.With("component", "web")}, nil
}

// Handler returns the handler of the API listener: the console's pages
// and assets, and the API for every other path.
func (c *Console) Handler() http.Handler {
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux := http.NewServeMux()
	mux.Handle("GET /static/", secure(noListing(files)))
	mux.Handle("GET /favicon.ico", secure(http.HandlerFunc(favicon)))
	mux.Handle("GET /login", secure(http.HandlerFunc(c.login)))
	mux.Handle("GET /{$}", secure(c.signedIn(c.overview)))
	mux.Handle("GET /apps/{app}/envs/{env}", secure(c.signedIn(c.app)))
	mux.Handle("GET /deployments/{id}", secure(c.signedIn(c.deployment)))
	mux.Handle("GET /audit", secure(c.signedIn(c.audit)))
	mux.Handle("GET /deploy", secure(c.signedIn(c.deployPage)))
	mux.Handle("GET /apps/{app}/builds", secure(c.signedIn(c.builds)))
	mux.Handle("GET /apps/{app}/envs/{env}/charts", secure(c.signedIn(c.charts)))
	mux.Handle("GET /apps/{app}/envs/{env}/charts/{chart}", secure(c.signedIn(c.chart)))
	mux.Handle("GET /builds/{id}", secure(c.signedIn(c.build)))
	mux.Handle("GET /apps/{app}/envs/{env}/logs", secure(c.signedIn(c.logs)))
	mux.Handle("/", c.api)
	return mux
}

// secure sets the headers of every console response.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// noListing answers 404 for a directory of the assets, and gives each
// asset an ETag of its content, so a browser asks again (no-cache) but
// gets a 304 while the binary is the same.
func noListing(h http.Handler) http.Handler {
	etags := map[string]string{}
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		etags["/"+p] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return nil
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		if tag, ok := etags[r.URL.Path]; ok {
			w.Header().Set("ETag", tag) // http.ServeContent answers If-None-Match with it
		}
		h.ServeHTTP(w, r)
	})
}

// favicon answers the browser's own request for /favicon.ico with the
// console's icon.
func favicon(w http.ResponseWriter, r *http.Request) {
	b, err := staticFS.ReadFile("static/favicon.svg")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "max-age=86400")
	_, _ = w.Write(b)
}

// pageHandler serves a page to a signed-in person.
type pageHandler func(w http.ResponseWriter, r *http.Request, who *signedIn)

func (c *Console) overview(w http.ResponseWriter, r *http.Request, who *signedIn) {
	c.render(w, "overview", pageData{Title: "Overview", Who: who, Scripts: []string{"overview.js", "prune.js"}})
}

// app serves an app environment's page, when the API lets the person
// read it (GET its releases): else the API's refusal, as a page.
func (c *Console) app(w http.ResponseWriter, r *http.Request, who *signedIn) {
	app, env := r.PathValue("app"), r.PathValue("env")
	if code, body := c.apiGet(r, "/api/v1/apps/"+url.PathEscape(app)+"/envs/"+url.PathEscape(env)+"/releases"); code != http.StatusOK {
		c.refused(w, who, code, apiError(code, body))
		return
	}
	c.render(w, "app", pageData{Title: app + "/" + env, Who: who, Scripts: []string{"app.js", "canary.js", "branch.js", "env.js"}, App: app, Env: env})
}

// deployment serves a deployment's page, when the API lets the person
// read it.
func (c *Console) deployment(w http.ResponseWriter, r *http.Request, who *signedIn) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.refused(w, who, http.StatusNotFound, "There is no deployment "+r.PathValue("id")+": deployment numbers are whole numbers from 1.")
		return
	}
	if code, body := c.apiGet(r, "/api/v1/deployments/"+strconv.FormatInt(id, 10)); code != http.StatusOK {
		c.refused(w, who, code, apiError(code, body))
		return
	}
	c.render(w, "deployment", pageData{Title: "Deployment " + strconv.FormatInt(id, 10), Who: who, Scripts: []string{"deployment.js"}, Deployment: id})
}

// logs serves the live tail of an app environment's logs, when the API
// lets the person read them.
func (c *Console) logs(w http.ResponseWriter, r *http.Request, who *signedIn) {
	app, env := r.PathValue("app"), r.PathValue("env")
	if code, body := c.apiGet(r, "/api/v1/apps/"+url.PathEscape(app)+"/envs/"+url.PathEscape(env)+"/releases"); code != http.StatusOK {
		c.refused(w, who, code, apiError(code, body))
		return
	}
	c.render(w, "logs", pageData{Title: "Logs of " + app + "/" + env, Who: who, Scripts: []string{"logs.js"}, App: app, Env: env})
}

// audit serves the audit log's page, when the API lets the person read
// the log (an admin).
func (c *Console) audit(w http.ResponseWriter, r *http.Request, who *signedIn) {
	if code, body := c.apiGet(r, "/api/v1/audit?limit=1"); code != http.StatusOK {
		c.refused(w, who, code, apiError(code, body))
		return
	}
	c.render(w, "audit", pageData{Title: "Audit log", Who: who, Scripts: []string{"audit.js"}})
}

// deployPage serves the form that deploys an uploaded Compose file, for
// the app and environment its query names (if any); the API decides
// when it is sent.
func (c *Console) deployPage(w http.ResponseWriter, r *http.Request, who *signedIn) {
	q := r.URL.Query()
	c.render(w, "deploy", pageData{Title: "Deploy", Who: who, Scripts: []string{"deploy.js"}, App: q.Get("app"), Env: q.Get("env")})
}

// builds serves the git pipeline's builds of an app, when the API lets
// the person read them.
func (c *Console) builds(w http.ResponseWriter, r *http.Request, who *signedIn) {
	app := r.PathValue("app")
	if code, body := c.apiGet(r, "/api/v1/apps/"+url.PathEscape(app)+"/builds?limit=1"); code != http.StatusOK {
		c.refused(w, who, code, apiError(code, body))
		return
	}
	c.render(w, "builds", pageData{Title: "Builds of " + app, Who: who, Scripts: []string{"builds.js"}, App: app})
}

// build serves one build's page, when the API lets the person read it.
func (c *Console) build(w http.ResponseWriter, r *http.Request, who *signedIn) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.refused(w, who, http.StatusNotFound, "There is no build "+r.PathValue("id")+": build numbers are whole numbers from 1.")
		return
	}
	if code, body := c.apiGet(r, "/api/v1/builds/"+strconv.FormatInt(id, 10)); code != http.StatusOK {
		c.refused(w, who, code, apiError(code, body))
		return
	}
	c.render(w, "build", pageData{Title: "Build " + strconv.FormatInt(id, 10), Who: who, Scripts: []string{"build.js"}, Build: id})
}

// refused answers a page the API refused or does not have, with its
// status and message.
func (c *Console) refused(w http.ResponseWriter, who *signedIn, code int, msg string) {
	w.WriteHeader(code)
	c.render(w, "error", pageData{Title: http.StatusText(code), Who: who, Error: msg})
}

// login serves the sign-in page. why says why the person is here: a
// session that ended ("expired") or a sign-out ("out").
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	d := pageData{Title: "Sign in", Scripts: []string{"login.js"}, Next: safeNext(r.URL.Query().Get("next"))}
	if _, err := r.Cookie(api.SessionCookie); err == nil {
		if code, who := c.whoAmI(r); code == http.StatusOK && who.Session != "" {
			http.Redirect(w, r, d.Next, http.StatusSeeOther) // signed in already
			return
		}
	}
	switch r.URL.Query().Get("why") {
	case "expired":
		d.Notice = "Your session has ended (it expired, was signed out elsewhere, or its token was revoked). Sign in again to go on."
	case "out":
		d.Notice = "You are signed out."
	}
	c.render(w, "login", d)
}

// safeNext is where to go after signing in: a path of this server only
// (never another site's address), else the overview. Browsers drop tabs
// and line breaks from a URL and read a backslash as a slash, so any of
// them (or another control character) refuses it: "/\t/evil.example"
// would otherwise become "//evil.example".
func safeNext(next string) string {
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' || r == ' ' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/api/") {
		return "/"
	}
	return next
}
