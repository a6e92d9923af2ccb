package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CertOptions say where certificates come from.
type CertOptions struct {
	// Dir holds NAME.crt + NAME.key pairs, matched to SNI by the
	// certificates' names (wildcards included); default.crt/.key there is
	// the default certificate unless DefaultCert is set.
	Dir string
	// DefaultCert and DefaultKey name the certificate served when SNI
	// matches nothing (or is absent).
	DefaultCert, DefaultKey string
	Logger                  *slog.Logger
}

// CertStore selects a certificate by SNI from an immutable table swapped
// atomically when files change: no lock on the handshake path.
type CertStore struct {
	o     CertOptions
	table atomic.Pointer[certTable]
	log   *slog.Logger

	mu     sync.Mutex           // serialises loads and table stores
	routes map[string]routeCert // by route key; guarded by mu

	acme atomic.Pointer[ACME] // set by EnableACME; nil: no ACME
}

// routeCert is a route's own certificate (RouteOptions.TLSCert) for its
// hosts.
type routeCert struct {
	hosts     []string
	cert, key string
}

type certTable struct {
	exact    map[string]*tls.Certificate // host → cert
	wildcard map[string]*tls.Certificate // "example.com" for *.example.com
	def      *tls.Certificate
	stamp    string // files and modification times it was loaded from
}

// NewCertStore loads the certificates once; Run reloads them.
func NewCertStore(o CertOptions) (*CertStore, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &CertStore{o: o, log: o.Logger.With("component", "tls"), routes: map[string]routeCert{}}
	t, err := c.load()
	if err != nil {
		return nil, err
	}
	if len(t.exact)+len(t.wildcard) == 0 && t.def == nil && (o.Dir != "" || o.DefaultCert != "") {
		return nil, errors.New("no certificates: put NAME.crt and NAME.key files in the certificate directory, or give a default certificate")
	}
	c.table.Store(t)
	return c, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *CertStore) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	t := c.table.Load()
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if isALPNChallenge(hello) {
		if cert, ok, err := c.acmeCertificate(hello, name, t); ok {
			return cert, err
		}
	}
	if cert, ok := t.exact[name]; ok {
		return cert, nil
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if cert, ok := t.wildcard[name[i+1:]]; ok {
			return cert, nil
		}
	}
	if cert, ok, err := c.acmeCertificate(hello, name, t); ok {
		return cert, err
	}
	if t.def != nil {
		return t.def, nil
	}
	return nil, fmt.Errorf("no certificate for %q", name)
}

// Run reloads the certificates every interval when their files changed,
// until ctx ends. A broken file keeps the previous table and is logged.
func (c *CertStore) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.reload()
	}
}

// reload loads the certificates again when their files changed.
func (c *CertStore) reload() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stamp() == c.table.Load().stamp {
		return
	}
	t, err := c.load()
	if err != nil {
		c.log.Error("reload certificates; keeping the previous ones", "error", err)
		return
	}
	c.table.Store(t)
	c.log.Info("certificates reloaded", "hosts", len(t.exact), "wildcards", len(t.wildcard), "default", t.def != nil)
}

// setRoute gives the hosts of the route named key the certificate in the
// files cert and key (both empty: the route has none). The files are
// loaded now; an error leaves the table as it was.
func (c *CertStore) setRoute(key string, hosts []string, cert, keyFile string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.pokeACME(hosts)
	prev, had := c.routes[key]
	if cert == "" && keyFile == "" {
		if !had {
			return nil
		}
		delete(c.routes, key)
	} else {
		if cert == "" || keyFile == "" {
			return errors.New("a TLS certificate needs both a cert and a key file")
		}
		pair, err := tls.LoadX509KeyPair(cert, keyFile)
		if err != nil {
			return fmt.Errorf("certificate %s with key %s: %w", cert, keyFile, err)
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return fmt.Errorf("certificate %s: %w", cert, err)
		}
		for _, h := range hosts {
			if err := leaf.VerifyHostname(h); err != nil {
				return fmt.Errorf("certificate %s does not cover host %s (it names %s)", cert, h, strings.Join(leaf.DNSNames, ", "))
			}
		}
		c.routes[key] = routeCert{hosts: slices.Clone(hosts), cert: cert, key: keyFile}
	}
	t, err := c.load()
	if err != nil {
		if had {
			c.routes[key] = prev
		} else {
			delete(c.routes, key)
		}
		return err
	}
	c.table.Store(t)
	return nil
}

// files lists the certificate/key pairs to load: the directory's, the
// default, then the routes' own (which win for their hosts).
func (c *CertStore) files() [][2]string {
	var pairs [][2]string
	if c.o.Dir != "" {
		crts, _ := filepath.Glob(filepath.Join(c.o.Dir, "*.crt"))
		sort.Strings(crts)
		for _, crt := range crts {
			pairs = append(pairs, [2]string{crt, strings.TrimSuffix(crt, ".crt") + ".key"})
		}
	}
	if c.o.DefaultCert != "" {
		pairs = append(pairs, [2]string{c.o.DefaultCert, c.o.DefaultKey})
	}
	for _, k := range sortedRouteKeys(c.routes) {
		rc := c.routes[k]
		pairs = append(pairs, [2]string{rc.cert, rc.key})
	}
	return pairs
}

func (c *CertStore) stamp() string {
	var b strings.Builder
	for _, p := range c.files() {
		for _, f := range p {
			if fi, err := os.Stat(f); err == nil {
				fmt.Fprintf(&b, "%s:%d:%d;", f, fi.Size(), fi.ModTime().UnixNano())
			}
		}
	}
	return b.String()
}

func sortedRouteKeys(m map[string]routeCert) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// load reads every certificate; c.mu is held (or c is not shared yet).
func (c *CertStore) load() (*certTable, error) {
	t := &certTable{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}, stamp: c.stamp()}
	byFile := map[string]*tls.Certificate{}
	pairs := c.files()
	nShared := len(pairs) - len(c.routes) // the directory's and the default
	for i, p := range pairs {
		if _, ok := byFile[p[0]]; ok {
			continue
		}
		cert, err := tls.LoadX509KeyPair(p[0], p[1])
		if err != nil {
			return nil, fmt.Errorf("certificate %s with key %s: %w", p[0], p[1], err)
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", p[0], err)
		}
		cert.Leaf = leaf
		byFile[p[0]] = &cert
		if i >= nShared {
			continue // a route's own: for its hosts only (below)
		}
		isDefault := (c.o.DefaultCert != "" && p[0] == c.o.DefaultCert) ||
			(c.o.DefaultCert == "" && filepath.Base(p[0]) == "default.crt")
		if isDefault {
			t.def = &cert
			continue
		}
		names := leaf.DNSNames
		if len(names) == 0 && leaf.Subject.CommonName != "" {
			names = []string{leaf.Subject.CommonName}
		}
		for _, n := range names {
			n = strings.ToLower(n)
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				t.wildcard[rest] = &cert
			} else {
				t.exact[n] = &cert
			}
		}
	}
	for _, k := range sortedRouteKeys(c.routes) {
		rc := c.routes[k]
		if cert := byFile[rc.cert]; cert != nil {
			for _, h := range rc.hosts {
				t.exact[h] = cert
			}
		}
	}
	return t, nil
}

// TLSConfig returns the configuration of the HTTPS listener: certificates
// chosen by SNI from c, HTTP/2 and HTTP/1.1 offered by ALPN.
func (c *CertStore) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: c.GetCertificate,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     c.nextProtos(),
	}
}
