package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/testutil"
)

func TestMetrics_AfterKnownTraffic(t *testing.T) {
	eng := requireDocker(t)
	dir := t.TempDir()
	// Access log in the data dir (the default); /metrics read as a
	// Prometheus without a token reads it, from an allowed address.
	s := startServerWith(t, dir, func(c *daemon.Config) { c.MetricsAllow = []string{"127.0.0.0/8"} })
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 2})); err != nil {
		t.Fatal(err)
	}
	// 20 answers 200 (one with the client's request id), 3 answer 404
	// and 2 answer 500 (the test app cannot write there).
	for i := 0; i < 19; i++ {
		if code, _ := get(t, s.addrs.HTTP, host, "/"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addrs.HTTP+"/", nil)
	req.Host = host
	req.Header.Set("X-Request-Id", "e2e-trace-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "e2e-trace-1" {
		t.Fatalf("X-Request-Id in the response: %q", got)
	}
	for i := 0; i < 3; i++ {
		if code, _ := get(t, s.addrs.HTTP, host, "/read?path=/nothing-here"); code != 404 {
			t.Fatalf("404 request: %d", code)
		}
	}
	for i := 0; i < 2; i++ {
		if code, _ := get(t, s.addrs.HTTP, host, "/write?path=/no/such/dir/x&data=y"); code != 500 {
			t.Fatalf("500 request: %d", code)
		}
	}

	resp, err = http.Get("http://" + s.addrs.API + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		fmt.Sprintf(`berth_proxy_requests_total{app=%q,env="production"} 25`, name),
		fmt.Sprintf(`berth_proxy_failed_requests_total{app=%q,env="production"} 0`, name),
		fmt.Sprintf(`berth_deployments_total{app=%q,env="production",kind="deploy",status="succeeded"} 1`, name),
		`berth_deployment_duration_seconds_count{app="` + name + `",env="production",kind="deploy"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if n := strings.Count(text, `berth_target_healthy{app="`+name+`"`); n != 2 {
		t.Errorf("%d target health series, want 2", n)
	}
	// Series of the release's pool: labels app, class, env, release, service.
	for class, want := range map[string]string{"1xx": "0", "2xx": "20", "3xx": "0", "4xx": "3", "5xx": "2"} {
		if got := seriesValue(text, `berth_proxy_responses_total{app="`+name+`",class="`+class+`"`); got != want {
			t.Errorf("responses %s: %q, want %s", class, got, want)
		}
	}
	if got := seriesValue(text, `berth_proxy_request_duration_seconds_count{app="`+name+`"`); got != "25" {
		t.Errorf("latency histogram count %q, want 25", got)
	}
	if got := seriesValue(text, `berth_proxy_request_duration_seconds_bucket{app="`+name+`"`); got == "" {
		t.Error("no latency buckets")
	}
	if n := strings.Count(text, `berth_proxy_upstream_errors_total{app="`+name+`"`); n != 8 {
		t.Errorf("%d upstream error series, want 8 (4 kinds x 2 targets)", n)
	}

	// Status: requests per second and error rate per container over the
	// last minute (whole seconds: poll until the second of the traffic
	// is over).
	testutil.Eventually(t, 5*time.Second, "status with request rates and 2/25 errors", func() bool {
		code, out, errOut := s.berth(t, "status", name, "--output", "json")
		if code != 0 {
			t.Fatalf("status: %d %s", code, errOut)
		}
		var sts []dto.EnvStatus
		if err := json.Unmarshal([]byte(out), &sts); err != nil {
			t.Fatalf("status json: %v\n%s", err, out)
		}
		var reqs, errs float64
		for _, c := range sts[0].Services[0].Containers {
			reqs += c.RPS
			errs += c.RPS * c.ErrorRate
		}
		return reqs > 0 && errs/reqs > 0.079 && errs/reqs < 0.081
	})
	code, out, _ := s.berth(t, "status", name)
	if code != 0 || !strings.Contains(out, "RPS") || !strings.Contains(out, "ERRORS") {
		t.Errorf("status table (exit %d):\n%s", code, out)
	}

	// Access log: one JSON line per request, written out at the latest
	// when the server stops.
	s.stop()
	logb, err := os.ReadFile(filepath.Join(dir, daemon.AccessLogFile))
	if err != nil {
		t.Fatal(err)
	}
	var lines, traced, failed int
	for _, l := range strings.Split(strings.TrimSpace(string(logb)), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("access log line is not JSON: %v: %s", err, l)
		}
		if e["app"] != name {
			continue
		}
		lines++
		if e["request_id"] == "e2e-trace-1" {
			traced++
		}
		if e["status"] == 500.0 {
			failed++
		}
		for _, k := range []string{"time", "request_id", "method", "host", "path", "status", "bytes", "duration", "env", "service", "release", "target", "client_addr", "user_agent"} {
			if _, ok := e[k]; !ok {
				t.Errorf("access log line without %s: %s", k, l)
			}
		}
	}
	if lines != 25 || traced != 1 || failed != 2 {
		t.Errorf("access log: %d lines of the app (want 25), %d with the client's id (want 1), %d with 500 (want 2)", lines, traced, failed)
	}
}

// seriesValue returns the value of the first series whose line starts
// with prefix ("" when none).
func seriesValue(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l[strings.LastIndexByte(l, ' ')+1:]
		}
	}
	return ""
}
