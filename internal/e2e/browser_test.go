package e2e

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium (Debian's chromium) driven over the
// DevTools protocol. It records what a page must never do: a JavaScript
// console error or uncaught exception, an asset or API request that
// failed (not one the page cancelled by leaving), and any request to a
// host other than loopback (which its flags also make fail).
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	problems []string
	expected []string // problems naming these are the test's own doing
	requests int
}

// chromiumPath is the browser's binary; a test without one fails when
// BERTH_REQUIRE_DOCKER=1 (scripts/ensure-test-deps installs it) and is
// skipped otherwise.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
		t.Fatal("BERTH_REQUIRE_DOCKER=1 but there is no chromium: apt-get install chromium (scripts/ensure-test-deps does)")
	}
	t.Skip("no chromium (apt-get install chromium)")
	return ""
}

// newBrowser starts Chromium for the test; it is stopped when the test
// ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root
		// Loopback only: no name resolves, and any request that is not
		// to loopback goes to a proxy that is not there.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.ProxyServer("http://127.0.0.1:9"),
		chromedp.Flag("proxy-bypass-list", "127.0.0.1"), // Chrome bypasses loopback anyway
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{ctx: ctx}
	if err := chromedp.Listen(ctx, b.observe); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return // the browser stopped
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.problem("console %s at %s:%d: %s", m.Type, m.URL, m.Line, m.Text)
			}
		}
	}()
	return b
}

func (b *browser) problem(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := fmt.Sprintf(format, args...)
	for _, e := range b.expected {
		if strings.Contains(p, e) {
			return
		}
	}
	b.problems = append(b.problems, p)
}

// observe records the network events that make a test fail. It runs
// on the browser's reading goroutine: it only records.
func (b *browser) observe(ev any) {
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.mu.Lock()
		b.requests++
		b.mu.Unlock()
		u, err := url.Parse(ev.Request.URL)
		if err != nil || (u.Scheme != "data" && u.Scheme != "about" && !isLoopback(u.Hostname())) {
			b.problem("request to a host that is not loopback: %s", ev.Request.URL)
		}
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			b.problem("%s answered %d", ev.Response.URL, ev.Response.Status)
		}
	case *network.EventLoadingFailed:
		if !ev.Canceled {
			b.problem("a %s request failed: %s (blocked: %q)", ev.Type, ev.ErrorText, ev.BlockedReason)
		}
	}
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// check fails the test with every problem recorded so far.
func (b *browser) check(t *testing.T, step string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("%s: %s", step, p)
	}
	if len(b.problems) > 0 {
		t.FailNow()
	}
}

// expect makes problems that name what (a URL the test has a request
// fail on purpose) not count.
func (b *browser) expect(what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expected = append(b.expected, what)
}

// fail ends the test, saying what the page shows.
func (b *browser) fail(t *testing.T, what string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	b.mu.Lock()
	problems := strings.Join(b.problems, "\n")
	b.mu.Unlock()
	t.Fatalf("%s: %v\npage: %s\nproblems: %s", what, err, page, problems)
}

// run runs actions with a deadline.
func (b *browser) run(t *testing.T, what string, within time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(t, what, err)
	}
}

// signIn fills in the sign-in page's token and sends it, again if the
// page was replaced while it typed (a navigation that was under way).
func (b *browser) signIn(t *testing.T, token string) {
	t.Helper()
	b.waitFor(t, "the sign-in page", `location.pathname === "/login" && document.readyState === "complete" && document.getElementById("token") !== null`, 30*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		err := chromedp.Do(ctx,
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := chromedp.Evaluate[bool](`(document.getElementById("token").value = "") === ""`)(ctx, tg)
				return err
			}),
			chromedp.SendKeys(chromedp.CSS("#token"), token),
			chromedp.Click(chromedp.CSS("#token-form button")))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.fail(t, "sign in", err)
		}
		t.Logf("sign in again: %v", err)
	}
}

// waitFor evaluates the JavaScript expression js in the page every
// 50ms until it is true, within the deadline. An evaluation that fails
// because the page is navigating is tried again.
func (b *browser) waitFor(t *testing.T, what, js string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			b.fail(t, "wait until "+what, fmt.Errorf("not true within %s (last error: %v)", within, last))
		}
		<-tick.C
	}
}

// text is the text of the element sel (CSS) selects, read in one
// evaluation (a live page may replace the element between two
// protocol calls).
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); return e ? e.innerText : "(no element " + `+strconv.Quote(sel)+` + ")"; })()`))
	if err != nil {
		b.fail(t, "read "+sel, err)
	}
	return s
}

// screenshot writes the whole page as DIR/name.png when
// BERTH_SCREENSHOTS=DIR (make screenshots), and does nothing otherwise.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("BERTH_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail(t, "screenshot "+name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", p)
}
