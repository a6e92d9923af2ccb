package web

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
)

// A chart is well-formed SVG: a line per series (broken where a step has
// no value), a dashed mark per deployment in range, the time axis in the
// viewer's zone, and text escaped.
func TestDrawChart_LinesGapsMarksAndTheTimeAxis(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	f := func(v float64) *float64 { return &v }
	tr := dto.Traffic{From: t0, To: t0.Add(time.Hour), Step: 10}
	for i := range 6 {
		p := dto.TrafficPoint{At: t0.Add(time.Duration(i+1) * 10 * time.Minute), Requests: 100, RPS: float64(10 * i), ErrorRate: 0.01,
			P50: f(0.002), P95: f(0.01), P99: f(0.05)}
		if i == 3 {
			p = dto.TrafficPoint{At: p.At} // no requests: no latency
		}
		tr.Points = append(tr.Points, p)
	}
	tr.Marks = []dto.TrafficMark{
		{At: t0.Add(25 * time.Minute), Kind: "rollback", Text: "rollback 4: release 2 <by> \"x\"", Deployment: 4},
		{At: t0.Add(-time.Hour), Kind: "deploy", Text: "out of range"},
	}
	count := func(svg []byte) map[string]int {
		t.Helper()
		n := map[string]int{}
		dec := xml.NewDecoder(bytes.NewReader(svg))
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				return n
			}
			if err != nil {
				t.Fatalf("not well-formed SVG: %v\n%s", err, svg)
			}
			if se, ok := tok.(xml.StartElement); ok {
				n[se.Name.Local]++
				for _, a := range se.Attr {
					if a.Name.Local == "style" || strings.HasPrefix(a.Name.Local, "on") {
						t.Errorf("an inline %s attribute: the CSP forbids it", a.Name.Local)
					}
				}
			}
		}
	}
	tz := time.FixedZone("", 60*60)
	lat := drawChart("Latency of shop/production", "latency", tr, tz)
	if n := count(lat); n["polyline"] != 6 || n["g"] != 1 {
		t.Errorf("latency: %d polylines (want 3 series × 2 runs around the gap), %d marks (want 1)", n["polyline"], n["g"])
	}
	if !strings.Contains(string(lat), "rollback 4: release 2 &lt;by&gt;") || !strings.Contains(string(lat), ">19:10<") {
		t.Errorf("the latency chart lacks the escaped mark or the time axis in the viewer's zone (19:10):\n%s", lat)
	}
	rps := drawChart("Requests", "rps", tr, time.UTC)
	if n := count(rps); n["polyline"] != 1 {
		t.Errorf("rps: %d polylines, want 1 (a step without requests is 0 requests/s)", n["polyline"])
	}
	if !strings.Contains(string(rps), ">50<") {
		t.Errorf("the value axis does not reach 50 requests/s:\n%s", rps)
	}
	empty := drawChart("Requests", "rps", dto.Traffic{From: t0, To: t0.Add(time.Hour)}, time.UTC)
	if count(empty)["polyline"] != 0 || !strings.Contains(string(empty), "no traffic recorded yet") {
		t.Errorf("an empty chart:\n%s", empty)
	}
}
