package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// matcher applies a .dockerignore. A nil *matcher excludes nothing.
type matcher struct {
	pm *patternmatcher.PatternMatcher
}

// ignorePatterns reads root/.dockerignore with the docker CLI's rules
// (moby/patternmatcher, the library the CLI and BuildKit use): one
// pattern a line, `#` comments, blank lines ignored, a leading `/` or
// `./` dropped, paths cleaned, `*` `?` `[...]` within a path element, `**`
// across any number of them, and `!` making an exception to earlier
// patterns; the last matching pattern wins, and a file is excluded when
// it or a parent directory is. As the CLI does, exceptions for the
// Dockerfile and .dockerignore are appended, so both are always sent.
func ignorePatterns(root, dockerfile string) (*matcher, error) {
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s/.dockerignore: %w", root, err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s/.dockerignore: %w", root, err)
	}
	if len(patterns) == 0 {
		return nil, nil
	}
	patterns = append(patterns, "!.dockerignore", "!"+dockerfile)
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s/.dockerignore: %w", root, err)
	}
	return &matcher{pm}, nil
}

// excluded reports whether the walk should leave rel (slash-separated)
// out. For a directory it returns fs.SkipDir when nothing under it can be
// brought back by an exception, as Docker's archiver decides: only an
// exception pattern that starts with the directory's path keeps the walk
// going into it.
func (m *matcher) excluded(rel string, isDir bool) (bool, error) {
	if m == nil {
		return false, nil
	}
	skip, err := m.pm.MatchesOrParentMatches(filepath.FromSlash(rel))
	if err != nil || !skip {
		return false, err
	}
	if !isDir {
		return true, nil
	}
	if m.pm.Exclusions() {
		dirSlash := rel + "/"
		for _, p := range m.pm.Patterns() {
			if p.Exclusion() && strings.HasPrefix(filepath.ToSlash(p.String())+"/", dirSlash) {
				return false, nil // walk in; the directory's own entry is left out
			}
		}
	}
	return true, filepath.SkipDir
}

// included reports whether rel itself is sent (a directory walked into
// for an exception below it is not).
func (m *matcher) included(rel string) bool {
	if m == nil {
		return true
	}
	skip, err := m.pm.MatchesOrParentMatches(filepath.FromSlash(rel))
	return err == nil && !skip
}
