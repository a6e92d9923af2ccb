package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// deliver sends d, retrying as the package documentation says.
func (n *Notifier) deliver(ctx context.Context, d delivery) {
	log := n.log.With("app", d.ev.App, "kind", d.ev.Kind, "target", d.t.Kind, "url", redact(d.t.URL))
	body, err := payload(d.t, d.ev)
	if err != nil {
		n.failed.Add(1)
		log.Error("notification not sent", "error", err)
		return
	}
	for attempt := 1; ; attempt++ {
		retryAfter, retry, err := n.post(ctx, d, body)
		if err == nil {
			n.delivered.Add(1)
			return
		}
		if ctx.Err() != nil {
			n.failed.Add(1)
			log.Warn("notification abandoned: berth is stopping", "attempts", attempt, "error", err)
			return
		}
		if !retry || attempt >= n.o.Attempts {
			n.failed.Add(1)
			log.Error("notification given up", "attempts", attempt, "error", err)
			return
		}
		wait := n.backoff(attempt)
		if retryAfter > wait {
			wait = min(retryAfter, n.o.MaxRetryAfter)
		}
		log.Debug("notification failed; retrying", "attempt", attempt, "wait", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			n.failed.Add(1)
			log.Warn("notification abandoned: berth is stopping", "attempts", attempt, "error", err)
			return
		case <-t.C:
		}
	}
}

// backoff is the wait after attempt (1-based): Backoff·2^(attempt-1),
// capped at MaxBackoff, of which a random half is taken off.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.o.Backoff
	for i := 1; i < attempt && d < n.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, n.o.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// post makes one attempt. It returns the receiver's Retry-After, whether
// a failure is worth retrying, and the failure.
func (n *Notifier) post(ctx context.Context, d delivery, body []byte) (time.Duration, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, false, fmt.Errorf("notification URL %s: %w", redact(d.t.URL), unwrapURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "berth-notify")
	if d.t.Kind != KindSlack {
		req.Header.Set("X-Berth-Event", d.ev.Kind)
	}
	resp, err := n.o.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return 0, true, fmt.Errorf("%s did not answer within %s", redact(d.t.URL), n.o.Timeout)
		}
		return 0, true, fmt.Errorf("%s: %w", redact(d.t.URL), unwrapURL(err))
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, false, nil
	}
	err = fmt.Errorf("%s answered %s", redact(d.t.URL), resp.Status)
	if s := strings.TrimSpace(string(snippet)); s != "" {
		err = fmt.Errorf("%w: %s", err, s)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500:
		return retryAfter(resp.Header.Get("Retry-After"), time.Now()), true, err
	}
	return 0, false, fmt.Errorf("%w (not retried: check the URL with `berth notify list`)", err)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redact keeps a URL's scheme and host: the path of a Slack webhook URL
// is its credential.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// unwrapURL drops *url.Error's wrapping, which quotes the full URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
