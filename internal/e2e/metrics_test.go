package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestMetrics_AfterKnownTraffic(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 2})); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 25; i++ {
		if code, _ := get(t, s.addrs.HTTP, host, "/"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	resp, err := http.Get("http://" + s.addrs.API + "/metrics")
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
}
