package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// DefaultACMEDirectory is Let's Encrypt's production directory.
const DefaultACMEDirectory = autocert.DefaultACMEDirectory

// ACMEOptions configure certificates from an ACME CA (Let's Encrypt) for
// the routed hosts that have no certificate file.
type ACMEOptions struct {
	// DirectoryURL is the CA's ACME directory (default Let's Encrypt's
	// production).
	DirectoryURL string
	// Email is the account's contact (optional).
	Email string
	// CARootFile is a PEM file of CA certificates trusted, besides the
	// system's, for the directory's HTTPS (a private or test CA).
	CARootFile string
	// CacheDir keeps the account key and the certificates, in a
	// subdirectory per CA (its directory's host), so that a certificate of
	// one CA is never served after switching to another.
	CacheDir string
	// Logger gets certificates issued and failed requests to the CA
	// (default slog.Default()).
	Logger *slog.Logger
}

// ACME obtains, caches and renews certificates with golang.org/x/crypto's
// autocert for the hosts of the routes (Store.SetRoutes) that no
// certificate file covers (exact, wildcard or the default). Challenges:
// tls-alpn-01 on the HTTPS listener (the Store answers them) and http-01
// on the HTTP listener (HTTPHandler). A certificate is requested when a
// route with hosts appears (Run), so the first visitor does not wait for
// the CA, and otherwise on the first handshake that names the host.
type ACME struct {
	m      *autocert.Manager
	certs  *Store
	log    *slog.Logger
	public bool // a Let's Encrypt directory: names it never issues for are refused

	ctx    context.Context // ends when Run returns; carried by every request to the CA
	cancel context.CancelFunc
	wake   chan struct{}
	sem    chan struct{} // bounds concurrent prefetches
	wg     sync.WaitGroup

	mu    sync.Mutex
	hosts map[string]*acmeHost
}

// acmeHost is what ACME knows of a host's certificate; guarded by ACME.mu.
type acmeHost struct {
	ready    bool      // the manager holds a certificate (issued or from the cache)
	inflight bool      // a prefetch is running
	next     time.Time // no prefetch before (after a failure)
	backoff  time.Duration
}

// EnableACME makes s serve ACME certificates for the hosts of its routes
// that it has no file for. Call it before serving; Run prefetches.
func (s *Store) EnableACME(o ACMEOptions) (*ACME, error) {
	if o.DirectoryURL == "" {
		o.DirectoryURL = DefaultACMEDirectory
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	u, err := url.Parse(o.DirectoryURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("acme directory %q: want an https:// URL", o.DirectoryURL)
	}
	if o.CacheDir == "" {
		return nil, errors.New("acme: no cache directory")
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if o.CARootFile != "" {
		b, err := os.ReadFile(o.CARootFile)
		if err != nil {
			return nil, fmt.Errorf("acme CA root: %w", err)
		}
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("acme CA root %s: no PEM certificate in it", o.CARootFile)
		}
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	ctx, cancel := context.WithCancel(context.Background())
	a := &ACME{
		certs: s, log: o.Logger.With("component", "acme"),
		public: strings.HasSuffix(u.Hostname(), ".letsencrypt.org"),
		ctx:    ctx, cancel: cancel,
		wake: make(chan struct{}, 1), sem: make(chan struct{}, 4),
		hosts: map[string]*acmeHost{},
	}
	a.m = &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(filepath.Join(o.CacheDir, cacheName(u))),
		HostPolicy: func(_ context.Context, host string) error { return a.wants(policyHost(host)) },
		Email:      o.Email,
		Client: &acme.Client{
			DirectoryURL: o.DirectoryURL,
			UserAgent:    "berth",
			HTTPClient:   &http.Client{Transport: ctxTransport{base: base, ctx: ctx}},
		},
	}
	s.acme.Store(a)
	a.log.Info("acme enabled: certificates for routed hosts without a certificate file",
		"directory", o.DirectoryURL, "cache_dir", filepath.Join(o.CacheDir, cacheName(u)),
		"challenges", "tls-alpn-01 on the https listener, http-01 on the http listener (the CA connects to ports 443 and 80)")
	return a, nil
}

// cacheName is the cache subdirectory of the CA at u: its host (and port).
func cacheName(u *url.URL) string {
	return strings.NewReplacer(":", "-", "/", "-").Replace(u.Host)
}

// HTTPHandler answers http-01 challenges (/.well-known/acme-challenge/)
// and passes every other request to next. Serve it on the HTTP listener.
func (a *ACME) HTTPHandler(next http.Handler) http.Handler { return a.m.HTTPHandler(next) }

// Run requests certificates for routed hosts that have none, whenever
// the routes change and every minute (a failed host waits longer each
// time, up to an hour), until ctx ends. When it returns, requests to the
// CA in flight are cut and their goroutines have ended.
func (a *ACME) Run(ctx context.Context) {
	defer a.wg.Wait()
	defer a.cancel()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		a.prefetch()
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-tick.C:
		}
	}
}

// poke tells Run that routes changed; it never blocks.
func (a *ACME) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// prefetch starts a certificate request for each routed host that wants
// one and has none, unless one is running or the host is backing off.
func (a *ACME) prefetch() {
	now := time.Now()
	for host := range *a.certs.routedHosts.Load() {
		if a.ctx.Err() != nil {
			return
		}
		if a.wants(host) != nil {
			continue
		}
		a.mu.Lock()
		h := a.host(host)
		if h.ready || h.inflight || now.Before(h.next) {
			a.mu.Unlock()
			continue
		}
		h.inflight = true
		a.mu.Unlock()
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.sem <- struct{}{}
			defer func() { <-a.sem }()
			_, err := a.get(ecdsaHello(host), host)
			a.mu.Lock()
			defer a.mu.Unlock()
			h.inflight = false
			if err != nil {
				h.backoff = min(max(2*h.backoff, time.Minute), time.Hour)
				h.next = time.Now().Add(h.backoff)
			}
		}()
	}
}

// host returns host's record; a.mu is held.
func (a *ACME) host(name string) *acmeHost {
	h := a.hosts[name]
	if h == nil {
		h = &acmeHost{}
		a.hosts[name] = h
	}
	return h
}

// get returns the manager's certificate for hello (issuing it when it
// has none) and logs the first one of each host.
func (a *ACME) get(hello *tls.ClientHelloInfo, host string) (*tls.Certificate, error) {
	start := time.Now()
	cert, err := a.m.GetCertificate(hello)
	if err != nil {
		a.log.Warn("acme certificate", "host", host, "error", err,
			"hint", "the host's DNS must point at this server and the CA must reach the https (tls-alpn-01) or http (http-01) listener on ports 443/80")
		return nil, err
	}
	a.mu.Lock()
	h := a.host(host)
	first := !h.ready
	h.ready, h.backoff, h.next = true, 0, time.Time{}
	a.mu.Unlock()
	if first && cert.Leaf != nil {
		a.log.Info("acme certificate ready", "host", host, "issuer", cert.Leaf.Issuer.CommonName,
			"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339), "seconds", time.Since(start).Seconds())
	}
	return cert, nil
}

// wants returns nil when host should have an ACME certificate: berth
// routes it, no certificate file covers it, and the CA can issue for it.
func (a *ACME) wants(host string) error {
	if !a.certs.routed(host) {
		return fmt.Errorf("acme: no app is routed to %q", host)
	}
	if a.certs.fileCovers(host) {
		return fmt.Errorf("acme: %q has a certificate file", host)
	}
	if net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return fmt.Errorf("acme: %q is not a DNS name a CA issues for", host)
	}
	if a.public {
		for _, s := range reservedSuffixes {
			if strings.HasSuffix(host, s) {
				return fmt.Errorf("acme: %q is under a reserved name (%s) that Let's Encrypt does not issue for", host, s)
			}
		}
	}
	return nil
}

// policyHost is the host name in a host policy's argument: a server
// name, or the Host of an http-01 challenge request (with a port).
func policyHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return normalize(h)
}

// reservedSuffixes are special-use names (RFC 2606, 6761, 6762, 8375)
// and .internal: public CAs refuse them.
var reservedSuffixes = []string{".test", ".example", ".invalid", ".localhost", ".local", ".internal", ".home.arpa"}

// ecdsaHello is a handshake of a client that accepts ECDSA certificates:
// what most clients send, so a prefetched certificate is the one they get.
func ecdsaHello(host string) *tls.ClientHelloInfo {
	return &tls.ClientHelloInfo{
		ServerName:       host,
		CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedCurves:  []tls.CurveID{tls.CurveP256},
	}
}

// isALPNChallenge reports whether hello is a CA's tls-alpn-01 validation.
func isALPNChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto
}

// acmeCertificate is Store.GetCertificate's ACME step for name, which
// matched no certificate file of t by name: ok is false when name is not
// ACME's (the default certificate, if any, is served instead).
func (s *Store) acmeCertificate(hello *tls.ClientHelloInfo, name string, t *table) (cert *tls.Certificate, ok bool, err error) {
	a := s.acme.Load()
	if a == nil {
		return nil, false, nil
	}
	if isALPNChallenge(hello) {
		cert, err := a.m.GetCertificate(hello)
		return cert, true, err
	}
	if t.def != nil && t.def.Leaf != nil && t.def.Leaf.VerifyHostname(name) == nil {
		return nil, false, nil
	}
	if a.wants(name) != nil {
		return nil, false, nil
	}
	cert, err = a.get(hello, name)
	return cert, true, err
}

// fileCovers reports whether a certificate file (the directory's, a
// route's, or the default) covers host.
func (s *Store) fileCovers(host string) bool {
	t := s.table.Load()
	if t.byName(host) != nil {
		return true
	}
	return t.def != nil && t.def.Leaf != nil && t.def.Leaf.VerifyHostname(host) == nil
}

// pokeACME tells ACME that the routes changed.
func (s *Store) pokeACME() {
	if a := s.acme.Load(); a != nil {
		a.poke()
	}
}

// nextProtos are the protocols the HTTPS listener offers by ALPN.
func (s *Store) nextProtos() []string {
	if s.acme.Load() != nil {
		return []string{"h2", "http/1.1", acme.ALPNProto}
	}
	return []string{"h2", "http/1.1"}
}

// ctxTransport cuts every request when ctx ends, so that stopping berth
// does not wait for a CA.
type ctxTransport struct {
	base http.RoundTripper
	ctx  context.Context
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := t.ctx.Err(); err != nil {
		return nil, fmt.Errorf("acme: berth is stopping: %w", err)
	}
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(t.ctx, cancel)
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		stop()
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, done: func() { stop(); cancel() }}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	done func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}
