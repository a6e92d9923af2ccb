// Package metrics exposes berth's state to Prometheus. Collectors read
// their sources at scrape time (nothing is added to the proxy's request
// path) and are registered on a registry the daemon owns: never global.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// RouteSample is one release of a routed service (a route with a canary
// gives two): its request totals and targets.
type RouteSample struct {
	App, Env, Service, Release string
	Targets                    []TargetSample
	// Responses counts answers by status class: [0] 1xx … [4] 5xx.
	Responses [5]uint64
	// Latency is the histogram of request durations.
	Latency HistogramSample
	// Retries counts requests sent again after their target failed before
	// any response byte: on another target (Retries) or on a fresh
	// connection to the same target after a reused one broke (Replays).
	Retries, Replays uint64
}

// HistogramSample is a histogram read from its source.
type HistogramSample struct {
	Bounds []float64 // upper bounds, ascending (+Inf implied)
	Counts []uint64  // per bucket, not cumulative: len(Bounds)+1, the last is +Inf
	Sum    float64
}

// TargetSample is one container behind a route.
type TargetSample struct {
	Name     string
	Healthy  bool
	InFlight int64
	Served   uint64
	// UpstreamErrors counts failed exchanges by kind (dial, reset,
	// timeout, other).
	UpstreamErrors map[string]uint64
}

// EnvSample is an app environment's request totals.
type EnvSample struct {
	App, Env       string
	Served, Failed uint64
}

// DeploySample is one finished deployment.
type DeploySample struct {
	App, Env, Kind, Status string
	Seconds                float64
}

// Sources are read at every scrape.
type Sources struct {
	Routes  func() []RouteSample
	Envs    func() []EnvSample
	Deploys func() []DeploySample // recent deployments (e.g. the last 1000)
}

type collector struct {
	src                                                  Sources
	requests, failed, inflight, targetUp, served, deploy *prometheus.Desc
	deploySeconds                                        *prometheus.Desc
	responses, latency, upstreamErrs, retries            *prometheus.Desc
}

// statusClasses are the values of the class label.
var statusClasses = [5]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Handler returns the /metrics handler for src, with Go runtime and
// process metrics.
func Handler(src Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(&collector{
		src:           src,
		requests:      prometheus.NewDesc("berth_proxy_requests_total", "Requests the proxy served for an app environment.", []string{"app", "env"}, nil),
		failed:        prometheus.NewDesc("berth_proxy_failed_requests_total", "Requests that failed at the proxy (its own 5xx and upstream errors).", []string{"app", "env"}, nil),
		inflight:      prometheus.NewDesc("berth_proxy_in_flight_requests", "Requests in flight to a target.", []string{"app", "env", "service", "release", "target"}, nil),
		targetUp:      prometheus.NewDesc("berth_target_healthy", "1 when a target passes its health check.", []string{"app", "env", "service", "release", "target"}, nil),
		served:        prometheus.NewDesc("berth_target_requests_total", "Requests a target served.", []string{"app", "env", "service", "release", "target"}, nil),
		deploy:        prometheus.NewDesc("berth_deployments_total", "Deployments by outcome.", []string{"app", "env", "kind", "status"}, nil),
		deploySeconds: prometheus.NewDesc("berth_deployment_duration_seconds", "Durations of recent deployments.", []string{"app", "env", "kind"}, nil),
		responses: prometheus.NewDesc("berth_proxy_responses_total", "Responses by status class (499: the client went away first).",
			[]string{"app", "env", "service", "release", "class"}, nil),
		latency: prometheus.NewDesc("berth_proxy_request_duration_seconds", "Time from routing a request to the end of its response.",
			[]string{"app", "env", "service", "release"}, nil),
		upstreamErrs: prometheus.NewDesc("berth_proxy_upstream_errors_total", "Failed exchanges with a target by kind: dial, reset, timeout, other.",
			[]string{"app", "env", "service", "release", "target", "kind"}, nil),
		retries: prometheus.NewDesc("berth_proxy_retries_total",
			"Requests sent again after their target failed before any response byte: to another target (to=\"other_target\") or on a fresh connection to the same one after a reused connection broke (to=\"new_connection\").",
			[]string{"app", "env", "service", "release", "to"}, nil),
	})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.failed, c.inflight, c.targetUp, c.served, c.deploy, c.deploySeconds,
		c.responses, c.latency, c.upstreamErrs, c.retries} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Envs != nil {
		for _, e := range c.src.Envs() {
			ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(e.Served), e.App, e.Env)
			ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(e.Failed), e.App, e.Env)
		}
	}
	if c.src.Routes != nil {
		for _, r := range c.src.Routes() {
			for i, n := range r.Responses {
				ch <- prometheus.MustNewConstMetric(c.responses, prometheus.CounterValue, float64(n), r.App, r.Env, r.Service, r.Release, statusClasses[i])
			}
			ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(r.Retries), r.App, r.Env, r.Service, r.Release, "other_target")
			ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(r.Replays), r.App, r.Env, r.Service, r.Release, "new_connection")
			if h := r.Latency; len(h.Counts) == len(h.Bounds)+1 {
				buckets := make(map[float64]uint64, len(h.Bounds))
				var cum uint64
				for i, b := range h.Bounds {
					cum += h.Counts[i]
					buckets[b] = cum
				}
				cum += h.Counts[len(h.Bounds)]
				ch <- prometheus.MustNewConstHistogram(c.latency, cum, h.Sum, buckets, r.App, r.Env, r.Service, r.Release)
			}
			for _, t := range r.Targets {
				up := 0.0
				if t.Healthy {
					up = 1
				}
				lv := []string{r.App, r.Env, r.Service, r.Release, t.Name}
				ch <- prometheus.MustNewConstMetric(c.targetUp, prometheus.GaugeValue, up, lv...)
				ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(t.InFlight), lv...)
				ch <- prometheus.MustNewConstMetric(c.served, prometheus.CounterValue, float64(t.Served), lv...)
				for kind, n := range t.UpstreamErrors {
					ch <- prometheus.MustNewConstMetric(c.upstreamErrs, prometheus.CounterValue, float64(n), append(lv, kind)...)
				}
			}
		}
	}
	if c.src.Deploys != nil {
		counts := map[[4]string]float64{}
		type key struct{ app, env, kind string }
		hist := map[key][]float64{}
		for _, d := range c.src.Deploys() {
			counts[[4]string{d.App, d.Env, d.Kind, d.Status}]++
			k := key{d.App, d.Env, d.Kind}
			hist[k] = append(hist[k], d.Seconds)
		}
		for k, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.deploy, prometheus.CounterValue, n, k[0], k[1], k[2], k[3])
		}
		bounds := []float64{0.5, 1, 2, 5, 10, 30, 60, 300}
		for k, xs := range hist {
			buckets := map[float64]uint64{}
			var sum float64
			for _, x := range xs {
				sum += x
				for _, b := range bounds {
					if x <= b {
						buckets[b]++
					}
				}
			}
			ch <- prometheus.MustNewConstHistogram(c.deploySeconds, uint64(len(xs)), sum, buckets, k.app, k.env, k.kind)
		}
	}
}
