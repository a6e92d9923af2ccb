package spec

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// EnvSpec is one environment of the top-level x-berth.environments: the
// branch whose pushes deploy to it, and how it differs from the file's
// defaults.
type EnvSpec struct {
	Branch string `json:"branch,omitempty"`
	// Hosts replaces the hosts of the named services in this environment.
	Hosts map[string][]string `json:"hosts,omitempty"`
	// Variables are added to every service's environment.
	Variables map[string]string `json:"variables,omitempty"`
}

// ForEnv returns the app as it runs in env: the environment's hosts and
// variables applied over the file's, and env's [DefaultHost] for the
// services routed at their default host. An environment the file does
// not describe gets the file as it is, but for those default hosts.
func (a *App) ForEnv(env string) *App {
	a = a.withDefaultHosts(env) // routing intent: SERVICE.ENV.APP.localhost
	es, ok := a.Environments[env]
	if !ok {
		return a
	}
	out := *a
	out.Services = slices.Clone(a.Services)
	for i := range out.Services {
		s := &out.Services[i]
		if hosts, ok := es.Hosts[s.Name]; ok {
			s.Hosts = slices.Clone(hosts)
			s.overrideHosts()
		}
		if len(es.Variables) > 0 {
			envs := maps.Clone(s.Environment)
			if envs == nil {
				envs = map[string]string{}
			}
			maps.Copy(envs, es.Variables)
			s.Environment = envs
		}
	}
	out.Notes = routeNotes(&out)
	return &out
}

// BranchEnvs maps branches to environments as x-berth.environments says.
func (a *App) BranchEnvs() map[string]string {
	out := map[string]string{}
	for env, es := range a.Environments {
		if es.Branch != "" {
			out[es.Branch] = env
		}
	}
	return out
}

// parseEnvironments reads the top-level x-berth extension.
func parseEnvironments(c *collector, app *App, raw any, wd string) {
	if raw == nil {
		return
	}
	keys := []string{"backups", "environments", "error_pages", "jobs"}
	m, ok := parseMapping(c, "", ExtensionKey, raw, keys)
	if !ok {
		return
	}
	for _, k := range sortedKeys(m) {
		if k == "error_pages" {
			parseErrorPages(c, app, m[k], wd)
			continue
		}
		if k == "backups" {
			parseBackupPolicy(c, app, m[k])
			continue
		}
		if k == "jobs" {
			app.Jobs = append(app.Jobs, parseJobs(c, "", ExtensionKey+".jobs", m[k])...)
			continue
		}
		if k != "environments" {
			c.add("", ExtensionKey+"."+k, unknownKey(k, keys))
			continue
		}
		envs, ok := m[k].(map[string]any)
		if !ok {
			c.add("", ExtensionKey+".environments", fmt.Sprintf("must be a mapping of environment names, got %s", describe(m[k])))
			continue
		}
		app.Environments = map[string]EnvSpec{}
		branches := map[string]string{}
		for _, env := range sortedKeys(envs) {
			field := ExtensionKey + ".environments." + env
			if msg := checkAppName(env); msg != "" {
				c.add("", field, "environment name: "+msg)
			}
			spec, ok := envs[env].(map[string]any)
			if !ok && envs[env] != nil {
				c.add("", field, fmt.Sprintf("must be a mapping with the keys branch, hosts, variables, got %s", describe(envs[env])))
				continue
			}
			var es EnvSpec
			for _, key := range sortedKeys(spec) {
				v := spec[key]
				switch key {
				case "branch":
					b, ok := v.(string)
					if !ok || b == "" {
						c.add("", field+".branch", fmt.Sprintf("must be a branch name, got %s", describe(v)))
						continue
					}
					if other, dup := branches[b]; dup {
						c.add("", field+".branch", fmt.Sprintf("branch %s already deploys to %s", quote(b), quote(other)))
					}
					branches[b] = env
					es.Branch = b
				case "hosts":
					hm, ok := v.(map[string]any)
					if !ok {
						c.add("", field+".hosts", fmt.Sprintf("must map service names to host lists, got %s", describe(v)))
						continue
					}
					es.Hosts = map[string][]string{}
					for _, svc := range sortedKeys(hm) {
						if _, ok := app.Service(svc); !ok {
							c.add("", field+".hosts."+svc, "no such service in this app")
							continue
						}
						hosts := parseStrings(c, svc, field+".hosts."+svc, hm[svc])
						for i, h := range hosts {
							if msg := checkHost(h); msg != "" {
								c.add(svc, fmt.Sprintf("%s.hosts.%s[%d]", field, svc, i), msg)
							}
						}
						es.Hosts[svc] = hosts
					}
				case "variables":
					vm, ok := v.(map[string]any)
					if !ok {
						c.add("", field+".variables", fmt.Sprintf("must be a mapping of variables, got %s", describe(v)))
						continue
					}
					es.Variables = map[string]string{}
					for _, name := range sortedKeys(vm) {
						es.Variables[name] = fmt.Sprint(vm[name])
					}
				default:
					c.add("", field+"."+key, unknownKey(key, []string{"branch", "hosts", "variables"}))
				}
			}
			app.Environments[env] = es
		}
	}
}

// maxErrorPage bounds an error page file.
const maxErrorPage = 64 << 10

// parseErrorPages reads x-berth.error_pages: status → HTML file, relative
// to the Compose file's directory.
func parseErrorPages(c *collector, app *App, raw any, wd string) {
	field := ExtensionKey + ".error_pages"
	m, ok := raw.(map[string]any)
	if !ok {
		c.add("", field, fmt.Sprintf("must map 404, 502, 503 or 504 to an HTML file, got %s", describe(raw)))
		return
	}
	app.ErrorPages = map[string]string{}
	for _, status := range sortedKeys(m) {
		f := field + "." + status
		if status != "404" && status != "502" && status != "503" && status != "504" {
			c.add("", f, "berth answers with its own pages for 404, 502, 503 and 504 only")
			continue
		}
		name, ok := m[status].(string)
		if !ok || name == "" {
			c.add("", f, fmt.Sprintf("must be the path of an HTML file, got %s", describe(m[status])))
			continue
		}
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		b, err := os.ReadFile(p)
		switch {
		case err != nil:
			c.add("", f, fmt.Sprintf("cannot read %s: %v", name, errors.Unwrap(err)))
		case len(b) > maxErrorPage:
			c.add("", f, fmt.Sprintf("%s is %d bytes; keep error pages under %d", name, len(b), maxErrorPage))
		default:
			app.ErrorPages[status] = string(b)
		}
	}
}
