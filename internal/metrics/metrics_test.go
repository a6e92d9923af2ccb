package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func scrape(t *testing.T, src Sources) string {
	t.Helper()
	srv := httptest.NewServer(Handler(src))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return string(b)
}

func TestHandler_ProxySeries(t *testing.T) {
	text := scrape(t, Sources{
		Routes: func() []RouteSample {
			return []RouteSample{{
				App: "shop", Env: "production", Service: "web", Release: "7",
				Responses: [5]uint64{0, 40, 2, 3, 5},
				Latency:   HistogramSample{Bounds: []float64{0.001, 0.01}, Counts: []uint64{30, 15, 5}, Sum: 1.25},
				Retries:   3, Replays: 1,
				Targets: []TargetSample{{Name: "shop-web-1", Healthy: true, InFlight: 2, Served: 45,
					UpstreamErrors: map[string]uint64{"dial": 1, "reset": 0, "timeout": 4, "other": 0}}},
			}}
		},
	})
	// The exposition sorts labels by name.
	for _, want := range []string{
		`berth_proxy_responses_total{app="shop",class="2xx",env="production",release="7",service="web"} 40`,
		`berth_proxy_responses_total{app="shop",class="5xx",env="production",release="7",service="web"} 5`,
		`berth_proxy_responses_total{app="shop",class="1xx",env="production",release="7",service="web"} 0`,
		`berth_proxy_request_duration_seconds_bucket{app="shop",env="production",release="7",service="web",le="0.001"} 30`,
		`berth_proxy_request_duration_seconds_bucket{app="shop",env="production",release="7",service="web",le="0.01"} 45`,
		`berth_proxy_request_duration_seconds_bucket{app="shop",env="production",release="7",service="web",le="+Inf"} 50`,
		`berth_proxy_request_duration_seconds_count{app="shop",env="production",release="7",service="web"} 50`,
		`berth_proxy_request_duration_seconds_sum{app="shop",env="production",release="7",service="web"} 1.25`,
		`berth_proxy_upstream_errors_total{app="shop",env="production",kind="timeout",release="7",service="web",target="shop-web-1"} 4`,
		`berth_proxy_upstream_errors_total{app="shop",env="production",kind="dial",release="7",service="web",target="shop-web-1"} 1`,
		`berth_target_healthy{app="shop",env="production",release="7",service="web",target="shop-web-1"} 1`,
		`berth_proxy_in_flight_requests{app="shop",env="production",release="7",service="web",target="shop-web-1"} 2`,
		`berth_target_requests_total{app="shop",env="production",release="7",service="web",target="shop-web-1"} 45`,
		`berth_proxy_retries_total{app="shop",env="production",release="7",service="web",to="other_target"} 3`,
		`berth_proxy_retries_total{app="shop",env="production",release="7",service="web",to="new_connection"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in\n%s", want, grepBerth(text))
		}
	}
}

func TestHandler_DeploysAndEnvs(t *testing.T) {
	text := scrape(t, Sources{
		Envs: func() []EnvSample { return []EnvSample{{App: "shop", Env: "staging", Served: 9, Failed: 1}} },
		Deploys: func() []DeploySample {
			return []DeploySample{
				{App: "shop", Env: "staging", Kind: "deploy", Status: "succeeded", Seconds: 3},
				{App: "shop", Env: "staging", Kind: "deploy", Status: "succeeded", Seconds: 40},
				{App: "shop", Env: "staging", Kind: "deploy", Status: "failed", Seconds: 0.2},
			}
		},
	})
	for _, want := range []string{
		`berth_proxy_requests_total{app="shop",env="staging"} 9`,
		`berth_proxy_failed_requests_total{app="shop",env="staging"} 1`,
		`berth_deployments_total{app="shop",env="staging",kind="deploy",status="succeeded"} 2`,
		`berth_deployments_total{app="shop",env="staging",kind="deploy",status="failed"} 1`,
		`berth_deployment_duration_seconds_bucket{app="shop",env="staging",kind="deploy",le="5"} 2`,
		`berth_deployment_duration_seconds_count{app="shop",env="staging",kind="deploy"} 3`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in\n%s", want, grepBerth(text))
		}
	}
}

func grepBerth(text string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "berth_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
