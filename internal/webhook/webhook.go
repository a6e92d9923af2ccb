// Package webhook verifies and reads push webhooks from GitHub, GitLab,
// Gitea/Forgejo and a generic HMAC form. Pure: no I/O beyond the request
// it is given.
//
// Invariants: every secret comparison is constant-time; a request whose
// signature is missing or wrong yields an error and nothing else.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Provider names where a webhook came from.
type Provider string

// Providers.
const (
	GitHub  Provider = "github"
	GitLab  Provider = "gitlab"
	Gitea   Provider = "gitea"
	Generic Provider = "generic"
)

// Sentinel errors.
var (
	ErrMissingSignature = errors.New("no webhook signature: send X-Hub-Signature-256 (GitHub), X-Gitlab-Token (GitLab), X-Gitea-Signature (Gitea) or X-Berth-Signature: sha256=<hex HMAC of the body>")
	ErrBadSignature     = errors.New("webhook signature does not match: check the secret configured for this app (berth apps connect prints it)")
	ErrNotAPush         = errors.New("not a push")
)

// Verify checks the request's signature over body with secret and says
// which provider sent it.
func Verify(h http.Header, body []byte, secret string) (Provider, error) {
	switch {
	case h.Get("X-Hub-Signature-256") != "":
		return GitHub, checkHMAC(h.Get("X-Hub-Signature-256"), "sha256=", body, secret)
	case h.Get("X-Gitea-Signature") != "":
		return Gitea, checkHMAC(h.Get("X-Gitea-Signature"), "", body, secret)
	case h.Get("X-Berth-Signature") != "":
		return Generic, checkHMAC(h.Get("X-Berth-Signature"), "sha256=", body, secret)
	case h.Get("X-Gitlab-Token") != "":
		if subtle.ConstantTimeCompare([]byte(h.Get("X-Gitlab-Token")), []byte(secret)) != 1 {
			return GitLab, ErrBadSignature
		}
		return GitLab, nil
	}
	return "", ErrMissingSignature
}

func checkHMAC(got, prefix string, body []byte, secret string) error {
	got = strings.TrimPrefix(strings.TrimSpace(got), prefix)
	sig, err := hex.DecodeString(got)
	if err != nil {
		return ErrBadSignature
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// Sign returns the X-Hub-Signature-256 / X-Berth-Signature value for body.
func Sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Push is what berth needs from a push event.
type Push struct {
	Provider   Provider `json:"provider"`
	DeliveryID string   `json:"delivery_id"`
	Branch     string   `json:"branch"`
	Commit     string   `json:"commit"`
	Repo       string   `json:"repo"`
	Author     string   `json:"author"`
	Message    string   `json:"message"`
}

// payload is the push event shape GitHub, Gitea and GitLab share closely.
type payload struct {
	Ref         string `json:"ref"`
	After       string `json:"after"`
	CheckoutSHA string `json:"checkout_sha"` // GitLab
	Deleted     bool   `json:"deleted"`
	Repository  struct {
		CloneURL string `json:"clone_url"`
		GitHTTP  string `json:"git_http_url"` // GitLab
	} `json:"repository"`
	HeadCommit *struct {
		Message string `json:"message"`
		Author  struct {
			Name string `json:"name"`
		} `json:"author"`
	} `json:"head_commit"`
	Pusher struct {
		Name string `json:"name"`
	} `json:"pusher"`
	UserName string `json:"user_name"` // GitLab
}

// Parse reads a push event. Pings, tag pushes and branch deletions are
// ErrNotAPush, wrapped with the reason.
func Parse(p Provider, h http.Header, body []byte) (Push, error) {
	event := h.Get("X-GitHub-Event") + h.Get("X-Gitea-Event") + h.Get("X-Gitlab-Event")
	if event == "ping" {
		return Push{}, fmt.Errorf("%w: a ping", ErrNotAPush)
	}
	if event != "" && event != "push" && event != "Push Hook" {
		return Push{}, fmt.Errorf("%w: a %q event", ErrNotAPush, event)
	}
	var pl payload
	if err := json.Unmarshal(body, &pl); err != nil {
		return Push{}, fmt.Errorf("read push payload: %w", err)
	}
	branch, ok := strings.CutPrefix(pl.Ref, "refs/heads/")
	if !ok {
		return Push{}, fmt.Errorf("%w: ref %q is not a branch", ErrNotAPush, pl.Ref)
	}
	commit := pl.After
	if pl.CheckoutSHA != "" {
		commit = pl.CheckoutSHA
	}
	if pl.Deleted || strings.Trim(commit, "0") == "" {
		return Push{}, fmt.Errorf("%w: branch %s was deleted", ErrNotAPush, branch)
	}
	out := Push{Provider: p, Branch: branch, Commit: commit, Repo: pl.Repository.CloneURL, Author: pl.Pusher.Name}
	if out.Repo == "" {
		out.Repo = pl.Repository.GitHTTP
	}
	if out.Author == "" {
		out.Author = pl.UserName
	}
	if pl.HeadCommit != nil {
		out.Message = pl.HeadCommit.Message
		if pl.HeadCommit.Author.Name != "" {
			out.Author = pl.HeadCommit.Author.Name
		}
	}
	for _, k := range []string{"X-GitHub-Delivery", "X-Gitea-Delivery", "X-Gitlab-Event-UUID", "X-Berth-Delivery", "Idempotency-Key"} {
		if v := h.Get(k); v != "" {
			out.DeliveryID = v
			break
		}
	}
	return out, nil
}
