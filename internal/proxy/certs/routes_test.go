package certs

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStore_CheckCertSaysWhatIsWrong(t *testing.T) {
	s, _ := newDirStore(t)
	dir := t.TempDir()
	writeCert(t, dir, "own", 10, "own.test", "www.own.test")
	crt, key := filepath.Join(dir, "own.crt"), filepath.Join(dir, "own.key")
	garbage := filepath.Join(dir, "garbage.crt")
	if err := os.WriteFile(garbage, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		hosts     []string
		crt, key  string
		wantError string // "" for none
	}{
		{"none", []string{"own.test"}, "", "", ""},
		{"covers every host", []string{"own.test", "WWW.own.test."}, crt, key, ""},
		{"no key", []string{"own.test"}, crt, "", "a TLS certificate needs both a cert and a key file"},
		{"no cert", []string{"own.test"}, "", key, "a TLS certificate needs both a cert and a key file"},
		{"not a pair", []string{"own.test"}, garbage, key, "certificate " + garbage + " with key " + key + ": "},
		{"missing", []string{"own.test"}, filepath.Join(dir, "nope.crt"), key, "certificate " + filepath.Join(dir, "nope.crt") + " with key " + key + ": "},
		{"another host", []string{"own.test", "other.test"}, crt, key,
			"certificate " + crt + " does not cover host other.test (it names own.test, www.own.test)"},
	} {
		err := s.CheckCert(tc.hosts, tc.crt, tc.key)
		switch {
		case tc.wantError == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantError != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantError)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantError)
		}
	}
}

func TestStore_RouteCertificateServesItsHostsAndReloads(t *testing.T) {
	s, dir := newDirStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx, 20*time.Millisecond)
	addr := serve(t, s, http.NotFoundHandler())
	serial := func(name string) int64 {
		leaf, _ := handshake(t, addr, name)
		return leaf.SerialNumber.Int64()
	}

	own := t.TempDir()
	// The route's own certificate names shop.test too: it wins for the
	// route's hosts only.
	writeCert(t, own, "own", 10, "own.test", "shop.test")
	r := Route{Name: "own/production/web", Hosts: []string{"own.test"},
		CertFile: filepath.Join(own, "own.crt"), KeyFile: filepath.Join(own, "own.key")}
	if err := s.CheckCert(r.Hosts, r.CertFile, r.KeyFile); err != nil {
		t.Fatal(err)
	}
	s.SetRoutes([]Route{{Name: "shop/production/web", Hosts: []string{"shop.test"}}, r})
	if got := serial("own.test"); got != 10 {
		t.Fatalf("route certificate: %d", got)
	}
	if got := serial("shop.test"); got != 1 {
		t.Fatalf("another route's host: certificate %d, want the directory's 1", got)
	}
	// Rewritten files are picked up without a restart: the directory's
	// and the route's.
	writeCert(t, dir, "shop", 8, "shop.test")
	writeCert(t, own, "own", 11, "own.test")
	deadline := time.Now().Add(5 * time.Second)
	for serial("shop.test") != 8 || serial("own.test") != 11 {
		if time.Now().After(deadline) {
			t.Fatal("rewritten certificates were not picked up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Without the route, its host gets the default certificate.
	s.SetRoutes([]Route{{Name: "shop/production/web", Hosts: []string{"shop.test"}}})
	if got := serial("own.test"); got != 3 {
		t.Fatalf("after the route left: certificate %d", got)
	}
}

func TestStore_SetRoutesIsTheRoutedHostsOfACME(t *testing.T) {
	s, err := New(Options{Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.EnableACME(ACMEOptions{DirectoryURL: "https://ca.invalid/dir", CacheDir: t.TempDir(), Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	own := t.TempDir()
	writeCert(t, own, "own", 10, "own.berth.test")
	s.SetRoutes([]Route{{Name: "a/p/web", Hosts: []string{"A.berth.test"}}})
	for _, name := range []string{"a.berth.test", "A.berth.test.", "a.berth.test:80"} { // SNI, http-01's Host
		if err := a.m.HostPolicy(t.Context(), name); err != nil {
			t.Fatalf("a routed host %q: %v", name, err)
		}
	}
	s.SetRoutes([]Route{{Name: "b/p/web", Hosts: []string{"own.berth.test"},
		CertFile: filepath.Join(own, "own.crt"), KeyFile: filepath.Join(own, "own.key")}})
	if err := a.wants("a.berth.test"); err == nil || !strings.Contains(err.Error(), "no app is routed") {
		t.Fatalf("a host no longer routed: %v", err)
	}
	if err := a.wants("own.berth.test"); err == nil || !strings.Contains(err.Error(), "has a certificate file") {
		t.Fatalf("a host with its own certificate: %v", err)
	}
	// No CA is asked (it does not exist): the unrouted host gets no
	// certificate, the routed one its own.
	if c, err := s.GetCertificate(ecdsaHello("a.berth.test")); err == nil {
		t.Fatalf("a host no longer routed got a certificate for %v", c.Leaf.DNSNames)
	}
	if got := serialFor(t, s, "own.berth.test"); got != 10 {
		t.Fatalf("own certificate: %d", got)
	}
}
