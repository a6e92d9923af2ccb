package spec

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// NameSource says where an app's name came from. The constants are in
// docker compose's order of precedence for a project name, highest first.
type NameSource int

const (
	// NameGiven is [LoadOptions.Name]: berth deploy --app (-p), as
	// docker compose -p.
	NameGiven NameSource = iota + 1
	// NameFromEnv is the COMPOSE_PROJECT_NAME variable (from
	// [LoadOptions.Environ] or the .env file).
	NameFromEnv
	// NameFromFile is the top-level name: of the Compose files, the last
	// file that sets it winning.
	NameFromFile
	// NameDefault is [LoadOptions.DefaultName], in place of the directory.
	NameDefault
	// NameFromDir is derived from the working directory's base name by
	// [DeriveName].
	NameFromDir
)

func (s NameSource) String() string {
	switch s {
	case NameGiven:
		return "given"
	case NameFromEnv:
		return consts.ComposeProjectName
	case NameFromFile:
		return "name:"
	case NameDefault:
		return "default"
	case NameFromDir:
		return "directory"
	}
	return fmt.Sprintf("NameSource(%d)", int(s))
}

// CheckAppName returns what is wrong with an app name (lowercase letters,
// digits and '-', starting with a letter, at most [MaxNameLength]), or nil.
func CheckAppName(name string) error {
	if name == "" {
		return errors.New("an app name must not be empty")
	}
	if msg := checkAppName(name); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// ResolvedName is an app's name and where it came from.
type ResolvedName struct {
	Name   string
	Source NameSource
	// Dir is the directory the name was derived from (Source NameFromDir).
	Dir string
}

// ResolveName works out the app name of the Compose files in opts as [Load]
// does, without loading the rest: opts.Name, else COMPOSE_PROJECT_NAME,
// else the top-level name:, else opts.DefaultName, else the working
// directory's name made valid by [DeriveName]. The CLI uses it to fetch the
// environment's configuration for ${VAR} interpolation before the full
// Load, and to say where a name it did not find in the file came from.
func ResolveName(opts LoadOptions) (ResolvedName, error) {
	if len(opts.Files) == 0 {
		return ResolvedName{}, Errors{{Msg: "no Compose file given"}}
	}
	files, err := readFiles(opts.Files)
	if err != nil {
		return ResolvedName{}, err
	}
	wd, err := workingDir(opts, files)
	if err != nil {
		return ResolvedName{}, err
	}
	env, err := environment(wd, opts.Environ)
	if err != nil {
		return ResolvedName{}, err
	}
	c := &collector{fileFor: attribution(files)}
	n := resolveName(c, opts, files, wd, env)
	if n.Name != "" {
		if msg := checkAppName(n.Name); msg != "" {
			c.add("", "name", msg)
		}
	}
	if err := c.err(); err != nil {
		return ResolvedName{}, err
	}
	return n, nil
}

// resolveName picks the app name in docker compose's order of precedence
// (-p, COMPOSE_PROJECT_NAME, name:, the directory), reporting to c what is
// wrong with a name that did not come from the files. A name from the
// files is checked later, by validateApp, like every other field.
func resolveName(c *collector, opts LoadOptions, files []*sourceFile, wd string, env types.Mapping) ResolvedName {
	if opts.Name != "" {
		if msg := checkAppName(opts.Name); msg != "" {
			c.errs = append(c.errs, &Error{Msg: msg})
			c.suppress("", "name")
		}
		return ResolvedName{Name: opts.Name, Source: NameGiven}
	}
	if v := env[consts.ComposeProjectName]; v != "" {
		if msg := checkAppName(v); msg != "" {
			c.errs = append(c.errs, &Error{Field: consts.ComposeProjectName, Msg: msg + " (unset it to use the Compose file's name: or directory)"})
			c.suppress("", "name")
		}
		return ResolvedName{Name: v, Source: NameFromEnv}
	}
	if name, named := appName(c, files, env); named {
		return ResolvedName{Name: name, Source: NameFromFile}
	}
	if opts.DefaultName != "" {
		return ResolvedName{Name: opts.DefaultName, Source: NameDefault}
	}
	name, err := DeriveName(wd)
	if err != nil {
		c.add("", "name", fmt.Sprintf("required: %v; set a top-level name: for the app (e.g. name: shop), or pass one to berth deploy --app", err))
		c.suppress("", "name")
	}
	return ResolvedName{Name: name, Source: NameFromDir, Dir: wd}
}

// appName returns the top-level name: as written in the last file that
// sets it, interpolated, and whether any file sets it.
func appName(c *collector, files []*sourceFile, env types.Mapping) (string, bool) {
	var raw any
	for _, f := range files {
		if v, ok := f.doc["name"]; ok && v != nil && v != "" {
			raw = v
		}
	}
	if raw == nil {
		return "", false
	}
	s, ok := raw.(string)
	if !ok {
		c.add("", "name", fmt.Sprintf("must be a string, got %s", describe(raw)))
		return "", true
	}
	name, err := quietSubstitute(s, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		c.add("", "name", err.Error())
		return "", true
	}
	if name == "" {
		c.add("", "name", fmt.Sprintf("%s is empty once its variables are expanded: set them, or remove name: to name the app after the directory", quote(s)))
	}
	return name, true
}

// DeriveName derives an app name from a directory's base name, as docker
// compose derives a project name (loader.NormalizeProjectName: lower case,
// only a-z, 0-9, '_' and '-' kept, leading '_' and '-' dropped), then
// made to fit berth's rules ([MaxNameLength], '-' for '_', no '-' at the
// end). Letters outside a-z (é, ß, 日) are dropped, as Compose drops them.
// It fails when nothing usable is left or the result starts with a digit.
func DeriveName(dir string) (string, error) {
	base := filepath.Base(dir)
	if base == "." || base == string(filepath.Separator) {
		base = ""
	}
	name := strings.ReplaceAll(loader.NormalizeProjectName(base), "_", "-")
	name = strings.TrimLeft(name, "-")
	if len(name) > MaxNameLength {
		name = name[:MaxNameLength]
	}
	name = strings.TrimRight(name, "-")
	switch {
	case name == "":
		return "", fmt.Errorf("the directory name %s has no letters or digits to name the app with (a-z, 0-9)", quote(base))
	case name[0] < 'a' || name[0] > 'z':
		return "", fmt.Errorf("the directory name %s gives %s, but an app name must start with a letter", quote(base), quote(name))
	}
	if msg := checkAppName(name); msg != "" {
		return "", fmt.Errorf("the directory name %s: %s", quote(base), msg) // unreachable: the rules above are checkAppName's
	}
	return name, nil
}
