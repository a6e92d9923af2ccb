package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/acmetest"
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/testutil"
)

// freeLoopback returns a loopback address whose port was free a moment ago.
func freeLoopback(t *testing.T) (string, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String(), ln.Addr().(*net.TCPAddr).Port
}

func TestACME_DeployedHostGetsAPebbleCertificateCachedAcrossRestart(t *testing.T) {
	eng := requireDocker(t)
	acmetest.Require(t)
	httpAddr, httpPort := freeLoopback(t)
	httpsAddr, httpsPort := freeLoopback(t)
	pb := acmetest.Start(t, acmetest.Options{HTTPPort: httpPort, TLSPort: httpsPort})
	dataDir := t.TempDir()
	tune := func(c *daemon.Config) {
		c.HTTPAddr, c.HTTPSAddr = httpAddr, httpsAddr
		c.ACME = daemon.ACMEConfig{Enabled: true, Directory: pb.DirectoryURL, CARoot: pb.CAFile, Email: "ops@berth.test"}
	}
	s := startServerWith(t, dataDir, tune)
	name, host := newApp(t, eng)
	if _, err := s.deploy(t, loadApp(t, name, host, appOpts{Version: "v1", Replicas: 1})); err != nil {
		t.Fatal(err)
	}
	// The route's appearance requests the certificate: it is in the
	// cache before any client asks for the host.
	u, _ := url.Parse(pb.DirectoryURL)
	cached := filepath.Join(dataDir, "acme", strings.ReplaceAll(u.Host, ":", "-"), host)
	start := time.Now()
	testutil.Eventually(t, 60*time.Second, "the certificate of "+host+" in DATA_DIR/acme", func() bool {
		_, err := os.Stat(cached)
		return err == nil
	})
	t.Logf("certificate of %s cached %v after the deploy returned, before any client", host, time.Since(start).Round(time.Millisecond))

	roots := pb.Roots(t)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", httpsAddr)
		},
	}}
	fetch := func() (*http.Response, string, error) {
		resp, err := client.Get("https://" + host + "/")
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b), nil
	}
	resp, body, err := fetch()
	if err != nil {
		t.Fatal(err)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if resp.StatusCode != 200 || body != "v1" || resp.ProtoMajor != 2 {
		t.Fatalf("https through berth: %d %q over HTTP/%d", resp.StatusCode, body, resp.ProtoMajor)
	}
	if !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Fatalf("certificate issued by %q", leaf.Issuer.CommonName)
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
	// A host no app is routed to gets no certificate and causes no order.
	if conn, err := tls.Dial("tcp", httpsAddr, &tls.Config{ServerName: "stranger.berth.test", InsecureSkipVerify: true}); err == nil {
		conn.Close()
		t.Fatal("a host no app is routed to got a certificate")
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("%d orders after an unrouted host, want 1", n)
	}

	// After a restart the cached certificate is served: no new order.
	s.stop()
	startServerWith(t, dataDir, tune)
	testutil.Eventually(t, 30*time.Second, "https to "+host+" after restart", func() bool {
		resp, body, err = fetch()
		return err == nil && resp.StatusCode == 200 && body == "v1"
	})
	if got := resp.TLS.PeerCertificates[0].SerialNumber; got.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("after restart: certificate %s, want the cached %s", got, leaf.SerialNumber)
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("%d orders after restart, want 1", n)
	}
}
