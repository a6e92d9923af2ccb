package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options say where certificates come from.
type Options struct {
	// Dir holds NAME.crt + NAME.key pairs, matched to SNI by the
	// certificates' names (wildcards included); default.crt/.key there is
	// the default certificate unless DefaultCert is set.
	Dir string
	// DefaultCert and DefaultKey name the certificate served when SNI
	// matches nothing (or is absent).
	DefaultCert, DefaultKey string
	// Logger gets reloads and broken files (default slog.Default()).
	Logger *slog.Logger
}

// Store selects a certificate by SNI from an immutable table swapped
// atomically when files or routes change: no lock on the handshake path.
type Store struct {
	o           Options
	table       atomic.Pointer[table]
	routedHosts atomic.Pointer[map[string]bool] // the hosts of the routes (SetRoutes)
	log         *slog.Logger

	mu     sync.Mutex // serialises loads, table stores and SetRoutes
	routes []Route    // sorted by Name; guarded by mu

	acme atomic.Pointer[ACME] // set by EnableACME; nil: no ACME
}

// table is one immutable snapshot of the certificates by name.
type table struct {
	exact    map[string]*tls.Certificate // host → cert
	wildcard map[string]*tls.Certificate // "example.com" for *.example.com
	def      *tls.Certificate
	stamp    string // files and modification times it was loaded from
}

// New loads the certificates once; Run reloads them.
func New(o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Store{o: o, log: o.Logger.With("component", "tls")}
	s.routedHosts.Store(&map[string]bool{})
	t, err := s.load()
	if err != nil {
		return nil, err
	}
	if len(t.exact)+len(t.wildcard) == 0 && t.def == nil && (o.Dir != "" || o.DefaultCert != "") {
		return nil, errors.New("no certificates: put NAME.crt and NAME.key files in the certificate directory, or give a default certificate")
	}
	s.table.Store(t)
	return s, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	t := s.table.Load()
	name := normalize(hello.ServerName)
	if isALPNChallenge(hello) {
		if cert, ok, err := s.acmeCertificate(hello, name, t); ok {
			return cert, err
		}
	}
	if cert := t.byName(name); cert != nil {
		return cert, nil
	}
	if cert, ok, err := s.acmeCertificate(hello, name, t); ok {
		return cert, err
	}
	if t.def != nil {
		return t.def, nil
	}
	return nil, fmt.Errorf("no certificate for %q", name)
}

// byName returns the certificate whose names (exact, then wildcard)
// match host, or nil.
func (t *table) byName(host string) *tls.Certificate {
	if cert, ok := t.exact[host]; ok {
		return cert
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		if cert, ok := t.wildcard[host[i+1:]]; ok {
			return cert
		}
	}
	return nil
}

// normalize lowercases a server name and strips a trailing dot.
func normalize(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// Run reloads the certificates every interval when their files changed,
// until ctx ends. A broken file keeps the previous table and is logged.
func (s *Store) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.reload()
	}
}

// reload loads the certificates again when their files changed.
func (s *Store) reload() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stamp() == s.table.Load().stamp {
		return
	}
	if t := s.swapLocked("reload certificates"); t != nil {
		s.log.Info("certificates reloaded", "hosts", len(t.exact), "wildcards", len(t.wildcard), "default", t.def != nil)
	}
}

// swapLocked loads the certificates and stores the new table, which it
// returns; an error keeps the previous table and is logged with what
// (nil is returned). s.mu is held.
func (s *Store) swapLocked(what string) *table {
	t, err := s.load()
	if err != nil {
		s.log.Error(what+"; keeping the previous ones", "error", err)
		return nil
	}
	s.table.Store(t)
	return t
}

// files lists the certificate/key pairs to load: the directory's, the
// default, then the routes' own (which win for their hosts).
func (s *Store) files() [][2]string {
	var pairs [][2]string
	if s.o.Dir != "" {
		crts, _ := filepath.Glob(filepath.Join(s.o.Dir, "*.crt"))
		sort.Strings(crts)
		for _, crt := range crts {
			pairs = append(pairs, [2]string{crt, strings.TrimSuffix(crt, ".crt") + ".key"})
		}
	}
	if s.o.DefaultCert != "" {
		pairs = append(pairs, [2]string{s.o.DefaultCert, s.o.DefaultKey})
	}
	for _, r := range s.routes {
		if r.CertFile != "" {
			pairs = append(pairs, [2]string{r.CertFile, r.KeyFile})
		}
	}
	return pairs
}

// stamp names the files to load with their sizes and modification
// times: a table whose stamp differs is out of date.
func (s *Store) stamp() string {
	var b strings.Builder
	for _, p := range s.files() {
		fmt.Fprintf(&b, "%s,%s", p[0], p[1])
		for _, f := range p {
			if fi, err := os.Stat(f); err == nil {
				fmt.Fprintf(&b, ":%d:%d", fi.Size(), fi.ModTime().UnixNano())
			}
		}
		b.WriteByte(';')
	}
	return b.String()
}

// load reads every certificate; s.mu is held (or s is not shared yet).
func (s *Store) load() (*table, error) {
	t := &table{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}, stamp: s.stamp()}
	byFile := map[string]*tls.Certificate{}
	pairs := s.files()
	nShared := len(pairs) - s.routeCerts() // the directory's and the default
	for i, p := range pairs {
		if _, ok := byFile[p[0]]; ok {
			continue
		}
		cert, err := loadPair(p[0], p[1])
		if err != nil {
			return nil, err
		}
		byFile[p[0]] = cert
		if i >= nShared {
			continue // a route's own: for its hosts only (below)
		}
		isDefault := (s.o.DefaultCert != "" && p[0] == s.o.DefaultCert) ||
			(s.o.DefaultCert == "" && filepath.Base(p[0]) == "default.crt")
		if isDefault {
			t.def = cert
			continue
		}
		names := cert.Leaf.DNSNames
		if len(names) == 0 && cert.Leaf.Subject.CommonName != "" {
			names = []string{cert.Leaf.Subject.CommonName}
		}
		for _, n := range names {
			n = strings.ToLower(n)
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				t.wildcard[rest] = cert
			} else {
				t.exact[n] = cert
			}
		}
	}
	for _, r := range s.routes {
		if cert := byFile[r.CertFile]; cert != nil && r.CertFile != "" {
			for _, h := range r.Hosts {
				t.exact[h] = cert
			}
		}
	}
	return t, nil
}

// loadPair reads the certificate file cert with its key file key, its
// leaf parsed.
func loadPair(cert, key string) (*tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("certificate %s with key %s: %w", cert, key, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", cert, err)
	}
	pair.Leaf = leaf
	return &pair, nil
}

// TLSConfig returns the configuration of the HTTPS listener: certificates
// chosen by SNI from s, HTTP/2 and HTTP/1.1 offered by ALPN.
func (s *Store) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: s.GetCertificate,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     s.nextProtos(),
	}
}
