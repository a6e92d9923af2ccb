package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// The charts of an app under load, in a real browser: the API's traffic
// has 10-second steps with the requests the load sent and their latency
// quantiles, and a scale marked; the charts page shows the three SVG
// charts the server draws (each loads, with a line and the mark) and
// lists the scale below them; the overview reports the app's p99.
func TestConsole_ChartsAndP99(t *testing.T) {
	eng := requireDocker(t)
	br := newBrowser(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir)
	tok := adminToken(t, dataDir)
	base := "http://" + srv.addrs.API
	name, host := newApp(t, eng)
	srv.deployOrFail(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1}))
	ld := startPacedLoad(srv.addrs.HTTP, host, 2, 50)
	defer func() { ld.stop() }()
	if _, err := srv.scale(t, name, dto.ScaleTarget{Service: "web", Replicas: 2}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var tr dto.Traffic
	var err error
	testutil.Eventually(t, 60*time.Second, "two steps with traffic", func() bool {
		tr, err = srv.client.Traffic(ctx, name, spec.DefaultEnv, 0)
		n := 0
		for _, p := range tr.Points {
			if p.Requests > 0 && p.P99 != nil {
				n++
			}
		}
		return err == nil && n >= 2
	})
	var sent uint64
	for _, p := range tr.Points {
		sent += p.Requests
		if p.P99 != nil && (*p.P50 > *p.P95 || *p.P95 > *p.P99 || *p.P99 <= 0) {
			t.Errorf("quantiles out of order: %+v", p)
		}
	}
	if sent == 0 || sent > uint64(ld.total.Load()) {
		t.Errorf("the steps count %d requests; the load sent %d", sent, ld.total.Load())
	}
	if len(tr.Marks) < 2 || tr.Marks[0].Kind != "scale" {
		t.Errorf("marks %+v, want the scale (newest first) and the deploy", tr.Marks)
	}

	br.run(t, "open the charts", 30*time.Second,
		chromedp.Navigate(base+"/apps/"+name+"/envs/production/charts"),
		chromedp.WaitVisible(chromedp.CSS("#token-form")))
	br.signIn(t, tok)
	br.waitFor(t, "three charts drawn and the scale listed", `location.pathname.endsWith("/charts") && [...document.querySelectorAll("img[data-chart]")].every((i) => i.complete && i.naturalWidth > 0) && document.querySelector('#mark-rows tr[data-kind="scale"]') !== null`, 30*time.Second)
	ctxb, cancel := context.WithTimeout(br.ctx, 10*time.Second)
	svg, err := chromedp.Run(ctxb, chromedp.Evaluate[string](`fetch(document.getElementById("chart-latency").src).then((r) => r.text())`, chromedp.EvalAwaitPromise))
	cancel()
	if err != nil || !strings.Contains(svg, `data-series="p99"`) || !strings.Contains(svg, `data-kind="scale"`) {
		t.Errorf("the latency chart (%v):\n%.2000s", err, svg)
	}
	br.screenshot(t, "charts")
	// The day's range: 5-minute steps (none merged yet in a fresh server).
	ctxd, canceld := context.WithTimeout(br.ctx, 10*time.Second)
	_, err = chromedp.Run(ctxd, chromedp.Evaluate[bool](`(() => { const s = document.getElementById("charts-range"); s.value = "24h"; s.dispatchEvent(new Event("change")); return true; })()`))
	canceld()
	if err != nil {
		br.fail(t, "choose the last day", err)
	}
	br.waitFor(t, "the day's charts drawn", `[...document.querySelectorAll("img[data-chart]")].every((i) => i.src.includes("range=24h") && i.complete && i.naturalWidth > 0)`, 30*time.Second)
	// One release's charts: the live one's requests.
	br.waitFor(t, "the releases to choose from", `document.querySelector('#charts-release option[value="1"]') !== null`, 10*time.Second)
	ctxr, cancelr := context.WithTimeout(br.ctx, 10*time.Second)
	_, err = chromedp.Run(ctxr, chromedp.Evaluate[bool](`(() => { const r = document.getElementById("charts-range"); r.value = "1h"; const s = document.getElementById("charts-release"); s.value = "1"; s.dispatchEvent(new Event("change")); return true; })()`))
	cancelr()
	if err != nil {
		br.fail(t, "choose release 1", err)
	}
	br.waitFor(t, "release 1's charts drawn", `[...document.querySelectorAll("img[data-chart]")].every((i) => i.src.includes("release=1") && i.complete && i.naturalWidth > 0)`, 30*time.Second)
	ctxs, cancels := context.WithTimeout(br.ctx, 10*time.Second)
	relSVG, err := chromedp.Run(ctxs, chromedp.Evaluate[string](`fetch(document.getElementById("chart-rps").src).then((r) => r.text())`, chromedp.EvalAwaitPromise))
	cancels()
	if err != nil || !strings.Contains(relSVG, "release 1") || !strings.Contains(relSVG, `data-series="requests/s"`) {
		t.Errorf("release 1's requests chart (%v):\n%.1500s", err, relSVG)
	}
	if day, err := srv.client.Traffic(ctx, name, spec.DefaultEnv, 24*time.Hour); err != nil || day.Step != 300 || len(day.Marks) < 2 {
		t.Errorf("the day's traffic: step %d, %d marks (%v)", day.Step, len(day.Marks), err)
	}
	br.check(t, "charts")

	br.run(t, "the overview", 30*time.Second, chromedp.Navigate(base+"/"))
	br.waitFor(t, "the app's p99", `document.querySelector('tr[data-app=`+jsString(name)+`] .p99') !== null && / (ms|s)$/.test(document.querySelector('tr[data-app=`+jsString(name)+`] .p99').textContent)`, 30*time.Second)
	t.Logf("the overview's p99 of %s: %s", name, br.text(t, `tr[data-app="`+name+`"] .p99`))
	br.check(t, "overview p99")
	ld.stop()
	if ld.failed.Load() != 0 {
		t.Errorf("load through the proxy: %s", ld.summary())
	}
}
