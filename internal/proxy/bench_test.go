package proxy

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkProxy_Serve measures parallel keep-alive GETs through the proxy
// (a real HTTP server in front of it) to an httptest backend. Allocations
// include the client and the backend, which run in the same process.
func BenchmarkProxy_Serve(b *testing.B) {
	benchProxy(b, New(Options{Logger: discardLog}))
}

// benchProxy sends parallel GETs through px routed to an httptest backend.
func benchProxy(b *testing.B, px *Proxy) {
	be := newBackendB(b)
	p := NewPool(keyA, "r1", []Target{{ID: "b", Name: "b", Addr: be.Listener.Addr().String()}}, fastHealth(), discardLog)
	b.Cleanup(p.Close)
	waitHealthyB(b, p)
	if _, err := px.SetRoute(keyA, []string{"shop.test"}, p); err != nil {
		b.Fatal(err)
	}
	srv := newServerB(b, px)
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", srv.URL+"/bench", nil)
		req.Host = "shop.test"
		for pb.Next() {
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkDirect_Baseline is the same load sent straight to the backend:
// the difference to BenchmarkProxy_Serve is the proxy's cost.
func BenchmarkDirect_Baseline(b *testing.B) {
	be := newBackendB(b)
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", be.URL+"/bench", nil)
		for pb.Next() {
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
