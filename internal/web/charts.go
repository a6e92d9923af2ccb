package web

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// The charts are drawn here, as SVG, from the API's GET .../traffic
// (asked in-process with the person's cookie, so the API's permission
// check decides): one image per chart, no chart library, no round trip
// per point. The page's script only reloads the images.

// chartKinds are the charts of an app environment's page.
var chartKinds = map[string]string{
	"rps":     "Requests per second",
	"errors":  "5xx share (%)",
	"latency": "Latency (ms): p50, p95, p99",
}

// charts serves the charts page of an app environment, when the API
// lets the person read its traffic.
func (c *Console) charts(w http.ResponseWriter, r *http.Request, who *signedIn) {
	app, env := r.PathValue("app"), r.PathValue("env")
	if code, body := c.apiGet(r, trafficPath(app, env)+"?range=1m"); code != http.StatusOK {
		c.refused(w, who, code, apiError(code, body))
		return
	}
	c.render(w, "charts", pageData{Title: "Charts of " + app + "/" + env, Who: who, Scripts: []string{"charts.js"}, App: app, Env: env})
}

func trafficPath(app, env string) string {
	return "/api/v1/apps/" + url.PathEscape(app) + "/envs/" + url.PathEscape(env) + "/traffic"
}

// chart serves one chart as SVG, of the last hour (?range=24h: day),
// of every release or of ?release=N;
// ?tz=MINUTES is the viewer's offset from UTC (JavaScript's
// getTimezoneOffset, negated), for the time axis.
func (c *Console) chart(w http.ResponseWriter, r *http.Request, who *signedIn) {
	app, env, kind := r.PathValue("app"), r.PathValue("env"), strings.TrimSuffix(r.PathValue("chart"), ".svg")
	title, ok := chartKinds[kind]
	if !ok {
		http.Error(w, "no such chart: rps, errors or latency", http.StatusNotFound)
		return
	}
	rng := "1h"
	if r.URL.Query().Get("range") == "24h" {
		rng = "24h"
	}
	q := url.Values{"range": {rng}}
	if rel := r.URL.Query().Get("release"); rel != "" {
		if _, err := strconv.ParseInt(rel, 10, 64); err != nil {
			http.Error(w, "release: a release number", http.StatusBadRequest)
			return
		}
		q.Set("release", rel)
		title += ", release " + rel
	}
	code, body := c.apiGetMax(r, trafficPath(app, env)+"?"+q.Encode(), 4<<20)
	if code != http.StatusOK {
		http.Error(w, apiError(code, body), code)
		return
	}
	var tr dto.Traffic
	if err := json.Unmarshal(body, &tr); err != nil {
		c.log.Error("read traffic", "error", err)
		http.Error(w, "the traffic could not be read: see the server's log", http.StatusInternalServerError)
		return
	}
	tz := time.UTC
	if m, err := strconv.Atoi(r.URL.Query().Get("tz")); err == nil && m >= -14*60 && m <= 14*60 {
		tz = time.FixedZone("", m*60)
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	_, _ = w.Write(drawChart(title+" of "+app+"/"+env, kind, tr, tz))
}

// line is one series of a chart; NaN is a gap.
type line struct {
	name, color string
	ys          []float64
}

func seriesOf(kind string, tr dto.Traffic) []line {
	n := len(tr.Points)
	get := func(f func(p dto.TrafficPoint) float64) []float64 {
		ys := make([]float64, n)
		for i, p := range tr.Points {
			ys[i] = f(p)
		}
		return ys
	}
	ms := func(v *float64) float64 {
		if v == nil {
			return math.NaN()
		}
		return *v * 1000
	}
	switch kind {
	case "rps":
		return []line{{"requests/s", "#1d4ed8", get(func(p dto.TrafficPoint) float64 { return p.RPS })}}
	case "errors":
		return []line{{"5xx %", "#991b1b", get(func(p dto.TrafficPoint) float64 { return 100 * p.ErrorRate })}}
	}
	return []line{
		{"p50", "#166534", get(func(p dto.TrafficPoint) float64 { return ms(p.P50) })},
		{"p95", "#854d0e", get(func(p dto.TrafficPoint) float64 { return ms(p.P95) })},
		{"p99", "#991b1b", get(func(p dto.TrafficPoint) float64 { return ms(p.P99) })},
	}
}

// markColor is a mark's colour by the deployment's kind.
func markColor(kind string) string {
	switch kind {
	case "rollback":
		return "#b91c1c"
	case "scale":
		return "#15803d"
	case "canary", "promote", "canary_weight":
		return "#b45309"
	}
	return "#1e3a8a"
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten (1 for nothing).
func niceMax(v float64) float64 {
	if !(v > 0) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// drawChart draws tr's kind chart from tr.From to tr.To: a line per
// series, a dashed vertical line per mark, the time axis in tz.
func drawChart(title, kind string, tr dto.Traffic, tz *time.Location) []byte {
	const W, H, left, right, top, bottom = 720.0, 220.0, 56.0, 12.0, 26.0, 28.0
	lines := seriesOf(kind, tr)
	peak := 0.0
	for _, l := range lines {
		for _, y := range l.ys {
			if !math.IsNaN(y) && y > peak {
				peak = y
			}
		}
	}
	ymax := niceMax(peak * 1.05)
	span := tr.To.Sub(tr.From).Seconds()
	if span <= 0 {
		span = 1
	}
	x := func(t time.Time) float64 { return left + (W-left-right)*t.Sub(tr.From).Seconds()/span }
	y := func(v float64) float64 { return top + (H-top-bottom)*(1-v/ymax) }
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s">`, W, H, W, H, esc(title))
	fmt.Fprintf(&b, `<title>%s</title><rect x="0" y="0" width="%g" height="%g" fill="#ffffff"/>`, esc(title), W, H)
	// The value axis: 4 grid lines with their values.
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e5e7eb"/>`, left, y(v), W-right, y(v))
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" font-size="11" text-anchor="end" fill="#4b5563" font-family="sans-serif">%s</text>`, left-6, y(v)+4, strconv.FormatFloat(v, 'g', 4, 64))
	}
	// The time axis: a tick every 10 minutes (every 2 for a short range,
	// every 2 hours for a day).
	every := 10 * time.Minute
	switch {
	case span < 1200:
		every = 2 * time.Minute
	case span > 4*3600:
		every = 2 * time.Hour
	}
	for t := tr.From.In(tz).Truncate(every).Add(every); t.Before(tr.To); t = t.Add(every) {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#9ca3af"/>`, x(t), H-bottom, x(t), H-bottom+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" font-size="11" text-anchor="middle" fill="#4b5563" font-family="sans-serif">%s</text>`, x(t), H-bottom+16, t.In(tz).Format("15:04"))
	}
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#6b7280"/>`, left, H-bottom, W-right, H-bottom)
	// The marks, under the lines.
	for _, m := range tr.Marks {
		if m.At.Before(tr.From) || m.At.After(tr.To) {
			continue
		}
		fmt.Fprintf(&b, `<g class="mark" data-kind="%s"><title>%s</title><line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="%s" stroke-dasharray="4 3"/>`,
			esc(m.Kind), esc(m.At.In(tz).Format("15:04:05")+" "+m.Text), x(m.At), top, x(m.At), H-bottom, markColor(m.Kind))
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" font-size="10" text-anchor="middle" fill="%s" font-family="sans-serif">%s</text></g>`, x(m.At), top-4, markColor(m.Kind), esc(markLetter(m.Kind)))
	}
	// The series: one polyline per run of points without a gap.
	for li, l := range lines {
		var pts []string
		flush := func() {
			if len(pts) > 0 {
				fmt.Fprintf(&b, `<polyline class="series" data-series="%s" fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`, esc(l.name), l.color, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i, v := range l.ys {
			if math.IsNaN(v) {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(tr.Points[i].At), y(v)))
		}
		flush()
		fmt.Fprintf(&b, `<text x="%g" y="14" font-size="12" fill="%s" font-family="sans-serif">%s</text>`, left+float64(li)*90, l.color, esc(l.name))
	}
	if len(tr.Points) == 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="13" text-anchor="middle" fill="#4b5563" font-family="sans-serif">no traffic recorded yet</text>`, W/2, H/2)
	}
	b.WriteString(`</svg>`)
	return []byte(b.String())
}

// markLetter labels a mark on the chart: D deploy, R rollback, S scale,
// C canary, P promote, W a canary's weight, X removal.
func markLetter(kind string) string {
	switch kind {
	case "rollback":
		return "R"
	case "scale":
		return "S"
	case "canary":
		return "C"
	case "promote":
		return "P"
	case "canary_weight":
		return "W"
	case "remove":
		return "X"
	}
	return "D"
}
