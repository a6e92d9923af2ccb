package spec

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Every file of the real-world corpus (testdata/corpus, see its
// SOURCES.md) is either accepted or refused with problems that each name
// the key, and the service for a service's key; what each gave (with an
// accepted file's warnings and routing notes) is kept in
// testdata/corpus.golden, so a change in what berth accepts shows in the
// diff.
func TestCorpus_EveryFileIsDecided(t *testing.T) {
	t.Parallel()
	results, err := LoadCorpus(context.Background(), filepath.Join("testdata", "corpus"))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 40 {
		t.Fatalf("the corpus has %d files, want at least 40", len(results))
	}
	var b strings.Builder
	for _, r := range results {
		dir, _ := filepath.Abs(filepath.Join("testdata", "corpus", r.Dir))
		clean := func(s string) string { return strings.ReplaceAll(s, dir+string(filepath.Separator), "") }
		switch {
		case r.Err != nil:
			t.Errorf("%s: not refused with problems naming their keys: %v", r.Dir, r.Err)
		case r.Accepted:
			fmt.Fprintf(&b, "%s: accepted\n", r.Dir)
			for _, w := range r.Warnings {
				fmt.Fprintf(&b, "  warning: %s\n", clean(w))
			}
			for _, n := range r.Notes {
				fmt.Fprintf(&b, "  note: %s\n", n)
			}
		default:
			fmt.Fprintf(&b, "%s: refused\n", r.Dir)
			for _, e := range r.Problems {
				if e.Field == "" && e.Service == "" {
					t.Errorf("%s: a problem names neither a key nor a service: %v", r.Dir, e)
				}
				fmt.Fprintf(&b, "  %s\n", clean(e.Error()))
			}
		}
	}
	golden(t, filepath.Join("testdata", "corpus.golden"), []byte(b.String()))
}

// BenchmarkCorpus loads the largest file of the corpus per operation and
// reports how many files of the corpus are accepted and refused (make
// bench-compose).
func BenchmarkCorpus(b *testing.B) {
	root := filepath.Join("testdata", "corpus")
	results, err := LoadCorpus(context.Background(), root)
	if err != nil {
		b.Fatal(err)
	}
	var accepted, refused int
	largest := results[0]
	for _, r := range results {
		if r.Accepted {
			accepted++
		} else {
			refused++
		}
		if r.Bytes > largest.Bytes {
			largest = r
		}
	}
	file := filepath.Join(root, largest.Dir, "compose.yaml")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_, _ = Load(context.Background(), LoadOptions{Files: []string{file}, Environ: map[string]string{}})
	}
	b.ReportMetric(float64(accepted), "accepted")
	b.ReportMetric(float64(refused), "refused")
	b.ReportMetric(float64(largest.Bytes), "largest-bytes")
}
