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
	"sort"
	"strings"
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
	c := &CertStore{o: o, log: o.Logger.With("component", "tls")}
	t, err := c.load()
	if err != nil {
		return nil, err
	}
	if len(t.exact)+len(t.wildcard) == 0 && t.def == nil {
		return nil, errors.New("no certificates: put NAME.crt and NAME.key files in the certificate directory, or give a default certificate")
	}
	c.table.Store(t)
	return c, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *CertStore) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	t := c.table.Load()
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if cert, ok := t.exact[name]; ok {
		return cert, nil
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if cert, ok := t.wildcard[name[i+1:]]; ok {
			return cert, nil
		}
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
		if c.stamp() == c.table.Load().stamp {
			continue
		}
		t, err := c.load()
		if err != nil {
			c.log.Error("reload certificates; keeping the previous ones", "error", err)
			continue
		}
		c.table.Store(t)
		c.log.Info("certificates reloaded", "hosts", len(t.exact), "wildcards", len(t.wildcard), "default", t.def != nil)
	}
}

// files lists the certificate/key pairs to load.
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

func (c *CertStore) load() (*certTable, error) {
	t := &certTable{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}, stamp: c.stamp()}
	for _, p := range c.files() {
		cert, err := tls.LoadX509KeyPair(p[0], p[1])
		if err != nil {
			return nil, fmt.Errorf("certificate %s with key %s: %w", p[0], p[1], err)
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", p[0], err)
		}
		cert.Leaf = leaf
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
	return t, nil
}
