package e2e

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/testutil"
)

// aliasBomb is the file: one 100 KB string anchored once and
// aliased a thousand times, 117 KB pushed, 100 MB expanded.
func aliasBomb(name, img string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nx-big: &big \"%s\"\nservices:\n  web:\n    image: %s\n    environment:\n", name, strings.Repeat("a", 100_000), img)
	for i := range 1000 {
		fmt.Fprintf(&b, "      V%d: *big\n", i)
	}
	return b.String()
}

// Pushed through the git pipeline, the alias bomb is refused with the
// limit and the key before compose-go expands it: the server allocates
// little and stores no release.
func TestPipeline_AliasBombIsRefusedSmall(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, _ := newApp(t, eng)
	repo := newGitRepo(t)
	commit := repo.commit(map[string]string{"compose.yaml": aliasBomb(name, image(t).Ref)}, "bomb")
	ctx := context.Background()
	res, err := s.client.Connect(ctx, name, dto.ConnectRequest{Repo: repo.URL, Branches: map[string]string{"main": "production"}})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	code, hr := githubHook(t, "http://"+s.addrs.API+res.WebhookPath, res.Secret, "bomb-1", "main", commit)
	if code != 202 {
		t.Fatalf("push webhook: %d %+v", code, hr)
	}
	var b dto.Build
	testutil.Eventually(t, 90*time.Second, "build ends", func() bool {
		b, _ = s.client.GetBuild(ctx, hr.BuildID)
		return b.Done()
	})
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if b.Status != "failed" || !strings.Contains(b.Error, "4 MiB") || !strings.Contains(b.Error, `service "web": environment.V`) {
		t.Fatalf("build %s: %q; want it refused with the 4 MiB limit at web's environment", b.Status, b.Error)
	}
	t.Logf("build error: %s", b.Error)
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("the server allocated %d MiB while refusing the bomb (peak heap %d MiB)", grew>>20, after.HeapSys>>20)
	if grew > 64<<20 {
		t.Errorf("the server allocated %d MiB for a 117 KB file: it expanded the aliases", grew>>20)
	}
	if rels, err := s.client.Releases(ctx, name, "production"); err == nil && len(rels) > 0 {
		t.Errorf("a release of the refused file was stored: %+v", rels[0].ID)
	}
}
