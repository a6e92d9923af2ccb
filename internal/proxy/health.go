package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// HealthConfig configures a pool's active health checks.
type HealthConfig struct {
	Path               string // GET path; default "/"
	Host               string // Host header for probes; empty: the target's addr
	Interval           time.Duration
	Timeout            time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
}

// Defaults applied to zero fields of a HealthConfig.
const (
	DefaultHealthInterval     = time.Second
	DefaultHealthTimeout      = 2 * time.Second
	DefaultHealthyThreshold   = 1
	DefaultUnhealthyThreshold = 2

	// fastProbeInterval is how often an unhealthy target is probed, so a
	// new release is seen healthy within tens of milliseconds.
	fastProbeInterval = 20 * time.Millisecond
)

func (hc HealthConfig) withDefaults() HealthConfig {
	if hc.Path == "" {
		hc.Path = "/"
	} else if hc.Path[0] != '/' {
		hc.Path = "/" + hc.Path
	}
	if hc.Interval <= 0 {
		hc.Interval = DefaultHealthInterval
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultHealthTimeout
	}
	if hc.HealthyThreshold <= 0 {
		hc.HealthyThreshold = DefaultHealthyThreshold
	}
	if hc.UnhealthyThreshold <= 0 {
		hc.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	return hc
}

func newProbeClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
			TLSNextProto:        nilTLSNextProto,
		},
		// 3xx passes: do not follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkLoop probes t until the pool stops its health checks: fast while t
// is out of rotation, every Interval while it is in.
func (p *Pool) checkLoop(t *target) {
	defer p.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-p.hcCtx.Done():
			return
		case <-timer.C:
		}
		err := p.probe(t)
		if p.hcCtx.Err() != nil {
			return
		}
		healthy := p.record(t, err)
		next := p.hc.Interval
		if !healthy || err != nil {
			// Out of rotation, or a failure to confirm (or clear) at
			// once: a dead target leaves rotation after
			// UnhealthyThreshold timeouts, not as many intervals more.
			next = min(next, fastProbeInterval)
		}
		timer.Reset(next)
	}
}

type statusError int

func (e statusError) Error() string { return fmt.Sprintf("status %d", int(e)) }

func (p *Pool) probe(t *target) error {
	ctx, cancel := context.WithTimeout(p.hcCtx, p.hc.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.probeURL, nil)
	if err != nil {
		return err
	}
	if p.hc.Host != "" {
		req.Host = p.hc.Host
	}
	req.Header.Set("User-Agent", "berth-health-check")
	resp, err := p.probeClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return statusError(resp.StatusCode)
	}
	return nil
}

// record applies one probe result to t and reports whether t is in
// rotation afterwards. A probe that got no answer (refused, reset,
// timeout) says t is unreachable; one answered with a bad status does not.
func (p *Pool) record(t *target, err error) bool {
	if err != nil {
		var se statusError
		return p.recordResult(t, false, p.describe(err), !errors.As(err, &se))
	}
	return p.recordResult(t, true, "", false)
}

// recordResult applies one check result to t and reports whether t is in
// rotation afterwards. When a failure that says t is unreachable leaves t
// out of rotation, the requests still waiting on t for a response head
// are cut (cutWaiting): a dead node never answers them.
func (p *Pool) recordResult(t *target, ok bool, why string, unreachable bool) bool {
	healthy := p.applyResult(t, ok, why)
	if !ok && unreachable && !healthy {
		p.cutWaiting(t)
	}
	return healthy
}

func (p *Pool) applyResult(t *target, ok bool, why string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	t.lastCheck = time.Now()
	t.checked = true
	changed := false
	if ok {
		t.lastErr = ""
		t.fails = 0
		t.passes++
		if !t.healthy && t.passes >= p.hc.HealthyThreshold {
			t.healthy, changed = true, true
			p.log.Info("target healthy", "target", t.Name, "addr", t.Addr)
		}
	} else {
		t.lastErr = why
		t.passes = 0
		t.fails++
		if t.healthy && t.fails >= p.hc.UnhealthyThreshold {
			t.healthy, changed = false, true
			p.log.Warn("target unhealthy", "target", t.Name, "addr", t.Addr, "error", t.lastErr)
		}
	}
	if changed {
		p.publishHealthyLocked()
	}
	return t.healthy
}

// publishHealthyLocked publishes the healthy subset of the targets and
// wakes WaitHealthy; p.mu is held.
func (p *Pool) publishHealthyLocked() {
	h := make([]*target, 0, len(p.targets))
	for _, x := range p.targets {
		if x.healthy {
			h = append(h, x)
		}
	}
	p.setHealthy(h)
	close(p.changed)
	p.changed = make(chan struct{})
}

// describe turns a check error into the short text users see, e.g.
// "connection refused", "status 500", "timeout after 2s".
func (p *Pool) describe(err error) string {
	var se statusError
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timeout after " + p.hc.Timeout.String()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without a response"
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
