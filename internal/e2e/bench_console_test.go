package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/testutil"
)

// TestBenchConsole (make bench-console): a berth server with 50 apps
// deployed on the real engine. It prints the server time of the
// overview (its page, the status of every app it renders, and the first
// event of its live stream), median and p95 of 30 rounds, and the
// memory the server holds for 100 open live pages: 100 status streams
// of a signed-in session, read by curl processes (so that the client's
// memory is not counted), each of which receives the next change. It
// fails only when a page or a stream fails.
func TestBenchConsole(t *testing.T) {
	if os.Getenv("BERTH_BENCH") != "1" {
		t.Skip("benchmark: run with make bench-console")
	}
	eng := requireDocker(t)
	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	const apps = 50
	names := make([]string, apps)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make(chan error, apps)
	began := time.Now()
	for i := range apps {
		name, host := newApp(t, eng)
		names[i] = name
		app := loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := s.deploy(t, app); err != nil {
				errs <- fmt.Errorf("deploy %s: %w", name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	fmt.Printf("bench-console: %d apps deployed in %s\n", apps, time.Since(began).Round(time.Second))

	tok, err := os.ReadFile(filepath.Join(dataDir, daemon.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.addrs.API
	body, _ := json.Marshal(map[string]string{"token": strings.TrimSpace(string(tok))})
	resp, err := http.Post(base+"/api/v1/session", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign in: %v %v", resp, err)
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() { // the session's (the only one)
		cookie = c.Name + "=" + c.Value
	}
	if cookie == "" {
		t.Fatal("signing in set no cookie")
	}
	c := &http.Client{Timeout: 30 * time.Second}
	timed := func(path string, firstLine string) time.Duration {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Cookie", cookie)
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		defer resp.Body.Close()
		if firstLine == "" {
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			return time.Since(start)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), firstLine) {
				return time.Since(start)
			}
		}
		t.Fatalf("GET %s ended before %q", path, firstLine)
		return 0
	}
	var page, status, stream []time.Duration
	var statusBytes int
	for range 30 {
		page = append(page, timed("/", ""))
		status = append(status, timed("/api/v1/status", ""))
		stream = append(stream, timed("/api/v1/status/events", "data: "))
	}
	if st, err := s.client.StatusAll(context.Background()); err != nil || len(st) < apps {
		t.Fatalf("status: %d environments (%v)", len(st), err)
	} else {
		b, _ := json.Marshal(st)
		statusBytes = len(b)
	}
	q := func(ds []time.Duration) string {
		slices.Sort(ds)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		return fmt.Sprintf("median %.1f ms, p95 %.1f ms", ms(ds[len(ds)/2]), ms(ds[len(ds)*95/100]))
	}
	fmt.Printf("bench-console: the overview with %d apps, server time over 30 rounds:\n", apps)
	fmt.Printf("bench-console:   the page (GET /, HTML): %s\n", q(page))
	fmt.Printf("bench-console:   every app's status it renders (GET /api/v1/status, %d KiB): %s\n", statusBytes>>10, q(status))
	fmt.Printf("bench-console:   the live stream's first event (GET /api/v1/status/events): %s\n", q(stream))

	// 100 open live pages: their streams, read by curl.
	mem := func() (heap, rss uint64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), "%d", &rss)
				rss <<= 10
			}
		}
		return ms.HeapInuse + ms.StackInuse, rss
	}
	heap0, rss0 := mem()
	gor0 := runtime.NumGoroutine()
	const pages = 100
	outs := make([]*testutil.SyncBuffer, pages)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var curls []*exec.Cmd
	for i := range pages {
		outs[i] = &testutil.SyncBuffer{}
		cmd := exec.CommandContext(ctx, "curl", "-sN", "-H", "Cookie: "+cookie, base+"/api/v1/status/events")
		cmd.Stdout = outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatalf("curl: %v", err)
		}
		curls = append(curls, cmd)
	}
	defer func() {
		cancel()
		for _, c := range curls {
			_ = c.Wait()
		}
	}()
	events := func(i int) int { return strings.Count(outs[i].String(), "event: status") }
	testutil.Eventually(t, 60*time.Second, "every stream's first event", func() bool {
		for i := range pages {
			if events(i) == 0 {
				return false
			}
		}
		return true
	})
	first := make([]int, pages)
	for i := range pages {
		first[i] = events(i)
	}
	heap1, rss1 := mem()
	gor1 := runtime.NumGoroutine()
	// A change reaches every open page.
	changed := time.Now()
	if err := s.client.SetMaintenance(context.Background(), names[0], "production", true, ""); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "every stream's next event", func() bool {
		for i := range pages {
			if events(i) <= first[i] {
				return false
			}
		}
		return true
	})
	fmt.Printf("bench-console: %d open live pages (status streams): the server's heap+stacks grew %.1f MiB (%.0f KiB a page), its RSS %.1f MiB (%.0f KiB a page), %d goroutines (%.1f a page); a change reached all of them within %s\n",
		pages, float64(int64(heap1)-int64(heap0))/(1<<20), float64(int64(heap1)-int64(heap0))/1024/pages,
		float64(int64(rss1)-int64(rss0))/(1<<20), float64(int64(rss1)-int64(rss0))/1024/pages, gor1-gor0, float64(gor1-gor0)/pages,
		time.Since(changed).Round(time.Millisecond))
}
