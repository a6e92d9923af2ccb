package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/testutil"
)

// webAndAPI is a routed web service that calls an internal api service
// by its name.
func webAndAPI(t *testing.T, name, host, version string) *spec.App {
	t.Helper()
	p := writeFile(t, "compose.yaml", fmt.Sprintf(`name: %[1]s
services:
  web:
    image: %[2]s
    environment: { VERSION: web-%[3]s }
    stop_grace_period: 3s
    x-berth: { port: 8080, hosts: [%[4]s], healthcheck: { path: /up, interval: 200ms }, drain_timeout: 3s }
  api:
    image: %[2]s
    environment: { VERSION: api-%[3]s }
    deploy: { replicas: 2 }
    stop_grace_period: 3s
`, name, image(t).Ref, version, host))
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func TestDeploy_ServiceNamesKeepAnsweringDuringASwitch(t *testing.T) {
	eng := requireDocker(t)
	s := startServer(t, t.TempDir())
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, webAndAPI(t, name, host, "v1")); err != nil {
		t.Fatal(err)
	}
	// Internal calls web -> api by name, through the proxy, under load.
	target := "/fetch?url=" + url.QueryEscape("http://api:8080/")
	var failures, total, v2 atomic.Int64
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		c := &http.Client{Timeout: 10 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest(http.MethodGet, "http://"+s.addrs.HTTP+target, nil)
			req.Host = host
			resp, err := c.Do(req)
			total.Add(1)
			if err != nil {
				failures.Add(1)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failures.Add(1)
				t.Logf("call failed: %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
			} else if string(b) == "api-v2" {
				v2.Add(1)
			}
		}
	}()
	if _, err := s.deploy(t, webAndAPI(t, name, host, "v2")); err != nil {
		close(stop)
		<-done
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "calls reach api v2", func() bool { return v2.Load() > 20 })
	close(stop)
	<-done
	t.Logf("%d internal calls, %d failed", total.Load(), failures.Load())
	if failures.Load() != 0 {
		t.Fatalf("%d of %d calls by service name failed during the switch", failures.Load(), total.Load())
	}
}
