package spec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// CorpusResult is what loading one file of a corpus of Compose files
// gave: accepted (with its warnings and routing notes) or refused (with its problems).
type CorpusResult struct {
	// Dir is the directory the compose.yaml is in.
	Dir      string
	Accepted bool
	Warnings []string
	// Notes say how an accepted file's services are routed without
	// x-berth (routing intent).
	Notes    []string
	Problems Errors
	// Err is set when the load failed other than with Errors.
	Err      error
	Bytes    int
	Duration time.Duration
}

// LoadCorpus loads every DIR/*/compose.yaml under root, in name order,
// each with an empty environment and the directory's name as the app's
// default name (as `docker compose` names a project). It is the engine of
// the corpus test and of `make bench-compose`.
func LoadCorpus(ctx context.Context, root string) ([]CorpusResult, error) {
	files, err := filepath.Glob(filepath.Join(root, "*", "compose.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	out := make([]CorpusResult, 0, len(files))
	for _, f := range files {
		r := CorpusResult{Dir: filepath.Base(filepath.Dir(f))}
		if st, err := os.Stat(f); err == nil {
			r.Bytes = int(st.Size())
		}
		start := time.Now()
		app, err := Load(ctx, LoadOptions{Files: []string{f}, Environ: map[string]string{}})
		r.Duration = time.Since(start)
		var es Errors
		switch {
		case err == nil:
			r.Accepted = true
			r.Warnings = app.Warnings
			r.Notes = app.Notes
		case errors.As(err, &es):
			r.Problems = es
		default:
			r.Err = err
		}
		out = append(out, r)
	}
	return out, nil
}
