package spec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// aliasBomb writes the file of the issue: one 100 KB string anchored once
// and aliased n times (117 KB on disk, 100 MB expanded).
func aliasBomb(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("name: bomb\nx-big: &big \"")
	b.WriteString(strings.Repeat("a", 100_000))
	b.WriteString("\"\nservices:\n  web:\n    image: app:1\n    environment:\n")
	for i := range n {
		fmt.Fprintf(&b, "      V%d: *big\n", i)
	}
	p := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad_AliasBombRefusedFast(t *testing.T) {
	t.Parallel()
	p := aliasBomb(t, 1000)
	if st, _ := os.Stat(p); st.Size() > 120_000 {
		t.Fatalf("the bomb is %d bytes on disk, want about 117 KB", st.Size())
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Load(context.Background(), LoadOptions{Files: []string{p}})
	took := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Load: %v, want the size refused", err)
	}
	if e.Service != "web" || !strings.HasPrefix(e.Field, "environment.V") || !strings.Contains(e.Msg, "4 MiB") {
		t.Errorf("refusal %q: want service web, the environment key, and the 4 MiB limit", err)
	}
	if took > 2*time.Second {
		t.Errorf("refused in %s: the check must not expand the file", took)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 50<<20 {
		t.Errorf("Load allocated %d MiB for a 117 KB file: it expanded the aliases", grew>>20)
	}
}

func TestLoad_SmallAliasesPass(t *testing.T) {
	t.Parallel()
	// 30 uses of a 100 KB value: 3 MB expanded, under the bound.
	app, err := Load(context.Background(), LoadOptions{Files: []string{aliasBomb(t, 30)}})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := len(app.Services[0].Environment["V7"]); got != 100_000 {
		t.Errorf("V7 has %d bytes, want 100000", got)
	}
}

func TestLoad_ValueBound(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "compose.yaml")
	body := "name: big\nservices:\n  web:\n    image: app:1\n    command: [\"/app\", \"" + strings.Repeat("x", MaxValueBytes+1) + "\"]\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), LoadOptions{Files: []string{p}})
	var e *Error
	if !errors.As(err, &e) || e.Service != "web" || e.Field != "command[1]" || !strings.Contains(e.Msg, "512 KiB") {
		t.Fatalf("Load: %v; want web command[1] refused with the 512 KiB limit", err)
	}
}

func TestLoad_FileBound(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "compose.yaml")
	body := "name: big\nservices:\n  web:\n    image: app:1\n" + strings.Repeat("# padding\n", MaxDefinitionBytes/10+1)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), LoadOptions{Files: []string{p}})
	if err == nil || !strings.Contains(err.Error(), "limit of 4 MiB") {
		t.Fatalf("Load: %v; want the file refused with the 4 MiB limit", err)
	}
}

func TestValidate_SizeBound(t *testing.T) {
	t.Parallel()
	app := App{Name: "big", Services: []Service{{Name: "web", Image: "app:1", Replicas: 1,
		Environment: map[string]string{"BIG": strings.Repeat("x", MaxValueBytes+1)}}}}
	err := app.Validate()
	var e *Error
	if !errors.As(err, &e) || e.Service != "web" || e.Field != "environment.BIG" || !strings.Contains(e.Msg, "512 KiB") {
		t.Fatalf("Validate: %v; want web environment.BIG refused with the 512 KiB limit", err)
	}
	app.Services[0].Environment = map[string]string{}
	for i := range 10 {
		app.Services[0].Environment[fmt.Sprint("V", i)] = strings.Repeat("x", MaxValueBytes)
	}
	if err := app.Validate(); err == nil || !strings.Contains(err.Error(), "limit of 4 MiB") {
		t.Fatalf("Validate: %v; want the definition refused with the 4 MiB limit", err)
	}
}
