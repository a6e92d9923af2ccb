package spec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// LoadOptions says where an app definition is and how to read it.
type LoadOptions struct {
	// Files are the Compose file and its override files, merged in order
	// like `docker compose -f a -f b`. At least one is required.
	Files []string
	// WorkingDir is the directory relative paths (bind mounts, env_file,
	// .env) are resolved against. Default: the directory of the first file.
	WorkingDir string
	// Environ holds the variables for ${VAR} interpolation. A .env file in
	// WorkingDir adds to them (Environ wins). The process environment is
	// never used.
	Environ map[string]string
	// Name, when set, is the app's name, whatever the files say: the
	// caller's -p, as docker compose -p.
	Name string
	// DefaultName, when set, names the app when neither Name,
	// COMPOSE_PROJECT_NAME nor a top-level name: does, in place of the
	// working directory's name (the git pipeline: the connected app).
	DefaultName string
}

// placeholderImage stands in for a missing image while compose-go checks
// the rest of the project, so that every problem is reported at once.
const placeholderImage = "berth.invalid/missing-image"

// sourceFile is one Compose file as read from disk.
type sourceFile struct {
	name    string         // as the user gave it, for messages
	abs     string         // absolute path, as compose-go names it
	content []byte         // the bytes compose-go parses
	doc     map[string]any // the raw YAML, nil when it does not parse
}

// Load reads the Compose files in opts with compose-go, merges them, reads
// the x-berth extension of each service, fills in defaults and validates
// the result. Problems in the definition are returned as [Errors] listing
// each one; the returned App passes [App.Validate].
func Load(ctx context.Context, opts LoadOptions) (*App, error) {
	if len(opts.Files) == 0 {
		return nil, Errors{{Msg: "no Compose file given"}}
	}
	files, err := readFiles(opts.Files)
	if err != nil {
		return nil, err
	}
	wd, err := workingDir(opts, files)
	if err != nil {
		return nil, err
	}
	env, err := environment(wd, opts.Environ)
	if err != nil {
		return nil, err
	}

	c := &collector{fileFor: attribution(files)}
	name := resolveName(c, opts, files, wd, env).Name
	loaderName := name
	if name == "" || loader.NormalizeProjectName(name) != name {
		loaderName = "app" // berth reports the bad name; compose-go needs a valid one to go on
	}
	details := types.ConfigDetails{WorkingDir: wd, Environment: env}
	for _, f := range files {
		details.ConfigFiles = append(details.ConfigFiles, types.ConfigFile{Filename: f.abs, Content: f.content})
	}
	setName := func(o *loader.Options) {
		o.SetProjectName(loaderName, true)
		// compose-go's own warnings would go to its global logger; berth
		// says the same in its own words (see unsetVariables).
		o.Interpolate.Substitute = quietSubstitute
	}

	dict, err := loader.LoadModelWithContext(ctx, details, setName)
	if err != nil {
		return nil, composeFailure(ctx, c, err, files)
	}
	missing := markMissingImages(dict)
	project, err := loader.ModelToProject(dict, loader.ToOptions(&details, []func(*loader.Options){setName}), details)
	if err != nil {
		return nil, composeFailure(ctx, c, err, files)
	}

	app := &App{Name: name, Files: slices.Clone(opts.Files), Volumes: convertVolumes(files, loaderName, project.Volumes),
		Networks: convertNetworks(files, loaderName, project.Networks)}
	app.Warnings = append(checkKeys(c, files, project.Services), unsetVariables(files, env)...)
	sort.Strings(app.Warnings)
	var bindBytes int64
	for _, sc := range project.Services {
		s := convertService(c, sc, missing)
		app.Warnings = append(app.Warnings, convertBinds(c, &s, files, wd, &bindBytes)...)
		convertConfigs(c, &s, sc.Configs, project.Configs, wd, env)
		convertSecrets(c, &s, sc.Secrets, project.Secrets, wd, env)
		convertBuild(c, &s, sc.Build, project.Secrets, wd, env)
		convertServiceNetworks(&s, sc)
		app.Jobs = append(app.Jobs, s.jobs...)
		s.jobs = nil
		app.Services = append(app.Services, s)
	}
	sort.Slice(app.Services, func(i, j int) bool { return app.Services[i].Name < app.Services[j].Name })
	parseEnvironments(c, app, project.Extensions[ExtensionKey], wd)
	sortJobs(app)
	app.Warnings = append(app.Warnings, decideRoutes(c, app, project.Services)...)

	validateApp(c, app)
	if err := c.err(); err != nil {
		return nil, err
	}
	return app, nil
}

// readFiles reads and pre-parses every file, reporting all that cannot be
// read.
func readFiles(names []string) ([]*sourceFile, error) {
	var errs Errors
	files := make([]*sourceFile, 0, len(names))
	meter := newSizeMeter()
	for _, n := range names {
		f := &sourceFile{name: n}
		abs, err := filepath.Abs(n)
		if err == nil {
			f.abs = abs
			f.content, err = readBounded(n, abs)
		}
		if se, ok := errors.AsType[*Error](err); ok {
			errs = append(errs, se)
			continue
		}
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			errs = append(errs, &Error{File: n, Msg: fmt.Sprintf("cannot read the Compose file: %v", err)})
			continue
		}
		// The parsed document tells which file a problem is in, and bounds
		// the file's expanded size before compose-go copies it; compose-go
		// reports syntax errors.
		if err := parseBounded(meter, f); err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, f)
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return files, nil
}

// workingDir returns the absolute directory relative paths are resolved
// against: opts.WorkingDir, or the directory of the first file.
func workingDir(opts LoadOptions, files []*sourceFile) (string, error) {
	wd := opts.WorkingDir
	if wd == "" {
		wd = filepath.Dir(files[0].abs)
	}
	wd, err := filepath.Abs(wd)
	if err != nil {
		return "", Errors{{File: files[0].name, Msg: fmt.Sprintf("working directory: %v", err)}}
	}
	return wd, nil
}

// environment returns the variables for interpolation: environ plus those
// of a .env file in wd that environ does not set.
func environment(wd string, environ map[string]string) (types.Mapping, error) {
	env := types.Mapping{}
	for k, v := range environ {
		env[k] = v
	}
	p := filepath.Join(wd, ".env")
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		return env, nil
	}
	fromFile, err := dotenv.GetEnvFromFile(env, []string{p})
	if err != nil {
		return nil, Errors{{File: p, Msg: err.Error()}}
	}
	return env.Merge(fromFile), nil
}

// markMissingImages finds the services of a loaded model that have no
// image, gives them a placeholder so compose-go can go on checking the
// project, and returns their names (true: they have build:, false: not).
func markMissingImages(dict map[string]any) map[string]bool {
	missing := map[string]bool{}
	services, _ := dict["services"].(map[string]any)
	for name, v := range services {
		s, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if img, _ := s["image"].(string); img != "" {
			continue
		}
		_, build := s["build"]
		missing[name] = build
		s["image"] = placeholderImage
	}
	return missing
}

// composeFailure turns an error from compose-go into Errors, adding those
// already collected.
func composeFailure(ctx context.Context, c *collector, err error, files []*sourceFile) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	msg := err.Error()
	file := files[0].name
	// Longest path first, so that a.yaml is not found inside a.yaml.orig.
	byLen := slices.Clone(files)
	slices.SortFunc(byLen, func(a, b *sourceFile) int { return len(b.abs) - len(a.abs) })
	found := false
	for _, f := range byLen {
		for _, prefix := range []string{"validating " + f.abs + ": ", "failed to parse " + f.abs + ": "} {
			if rest, ok := strings.CutPrefix(msg, prefix); ok && !found {
				msg, file, found = rest, f.name, true
			}
		}
		if strings.Contains(msg, f.abs) {
			if !found {
				file, found = f.name, true
			}
			msg = strings.ReplaceAll(msg, f.abs, f.name)
		}
	}
	e := &Error{File: file, Msg: msg}
	splitComposePath(e, files)
	c.errs = append(c.errs, e)
	return c.err()
}

// splitComposePath rewrites a compose-go message about a service attribute,
// "services.web.imagee false schema", into berth's shape: service "web",
// field "imagee", message "is not a Compose attribute; check the spelling".
func splitComposePath(e *Error, files []*sourceFile) {
	// Type errors while decoding the model come from mapstructure:
	// "decoding failed ...:\n\n'services[web].deploy.x' strconv...: invalid syntax"
	if rest, ok := strings.CutPrefix(e.Msg, "decoding failed due to the following error(s):"); ok {
		rest = strings.TrimSpace(rest)
		if p, m, ok := strings.Cut(rest, "' "); ok && !strings.Contains(rest, "\n") {
			p = strings.TrimPrefix(p, "'")
			if name, field, ok := strings.Cut(strings.TrimPrefix(p, "services["), "]."); ok && strings.HasPrefix(p, "services[") {
				e.Service, e.Field, e.Msg = name, field, m
				return
			}
		}
		e.Msg = rest
		return
	}
	rest, ok := strings.CutPrefix(e.Msg, "services.")
	if !ok {
		return
	}
	var service string
	for _, f := range files {
		services, _ := f.doc["services"].(map[string]any)
		for name := range services {
			if strings.HasPrefix(rest, name+".") && len(name) > len(service) {
				service = name
			}
		}
	}
	if service == "" {
		return
	}
	rest = rest[len(service)+1:]
	field, msg, ok := strings.Cut(rest, " ")
	if !ok || field == "" {
		return
	}
	field = strings.TrimSuffix(field, ":")
	switch {
	case msg == "false schema":
		msg = "is not a Compose attribute; check the spelling"
	case (field == "deploy.replicas" || field == "scale") && strings.HasPrefix(msg, "must be greater than or equal to 0"):
		msg = "must be at least 1"
	}
	e.Service, e.Field, e.Msg = service, field, msg
}

// attribution returns a function naming the file a problem is in: the last
// file that sets the field, or when none does, the first file that defines
// the closest enclosing mapping (the service, usually).
func attribution(files []*sourceFile) func(service, field string) string {
	return func(service, field string) string {
		var p []string
		if service != "" {
			p = append(p, "services", service)
		}
		for _, part := range strings.Split(field, ".") {
			if i := strings.IndexByte(part, '['); i >= 0 {
				part = part[:i]
			}
			if part != "" {
				p = append(p, part)
			}
		}
		for i := len(files) - 1; i >= 0; i-- {
			if has(files[i].doc, p) {
				return files[i].name
			}
		}
		for n := len(p) - 1; n > 0; n-- {
			for _, f := range files {
				if has(f.doc, p[:n]) {
					return f.name
				}
			}
		}
		return files[0].name
	}
}

// has reports whether the YAML document doc has a value at path p.
func has(doc map[string]any, p []string) bool {
	var cur any = doc
	for _, k := range p {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[k]; !ok {
			return false
		}
	}
	return true
}
