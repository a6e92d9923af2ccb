package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Provider names where a webhook came from.
type Provider string

// Providers berth understands.
const (
	GitHub  Provider = "github"
	GitLab  Provider = "gitlab"
	Gitea   Provider = "gitea" // Gitea, Forgejo and Gogs
	Generic Provider = "generic"
)

// Sentinel errors of Verify and Parse. Verify wraps them with the detail;
// test with errors.Is.
var (
	ErrNoSecret         = errors.New("no webhook secret is configured for this app: run `berth apps connect` and set the secret it prints in the git host's webhook settings")
	ErrMissingSignature = errors.New("the webhook carries no signature: set the webhook's secret to the one `berth apps connect` printed (GitHub: Secret, sent as X-Hub-Signature-256; GitLab: Secret token, sent as X-Gitlab-Token; Gitea/Forgejo: Secret, sent as X-Gitea-Signature; others: X-Berth-Signature: sha256=<hex HMAC-SHA256 of the body>)")
	ErrBadSignature     = errors.New("the webhook signature does not match: the secret in the git host's webhook settings differs from the one `berth apps connect` printed, or the body was changed on the way")
	ErrUnknownProvider  = errors.New("not a recognised push webhook: send it from GitHub, GitLab, Gitea/Forgejo, or sign it yourself with X-Berth-Signature: sha256=<hex HMAC-SHA256 of the body>")
	ErrNotAPush         = errors.New("not a push")
)

// Header names, canonical form.
const (
	hGitHubSig     = "X-Hub-Signature-256"
	hGitHubEvent   = "X-Github-Event"
	hGitHubDeliv   = "X-Github-Delivery"
	hGitLabToken   = "X-Gitlab-Token"
	hGitLabEvent   = "X-Gitlab-Event"
	hGitLabUUID    = "X-Gitlab-Event-Uuid"
	hIdempotency   = "Idempotency-Key"
	hGiteaSig      = "X-Gitea-Signature"
	hGiteaEvent    = "X-Gitea-Event"
	hGiteaDeliv    = "X-Gitea-Delivery"
	hForgejoSig    = "X-Forgejo-Signature"
	hForgejoEvent  = "X-Forgejo-Event"
	hForgejoDeliv  = "X-Forgejo-Delivery"
	hGogsSig       = "X-Gogs-Signature"
	hGogsEvent     = "X-Gogs-Event"
	hGogsDeliv     = "X-Gogs-Delivery"
	hBerthSig      = "X-Berth-Signature"
	hBerthEvent    = "X-Berth-Event"
	hBerthDelivery = "X-Berth-Delivery"
)

// Detect says which provider sent a request, from its headers alone (no
// verification). Gitea and Forgejo also send GitHub's headers, so their
// own headers are looked at first.
func Detect(h http.Header) (Provider, bool) {
	switch {
	case first(h, hForgejoSig, hForgejoEvent, hGiteaSig, hGiteaEvent, hGogsSig, hGogsEvent) != "":
		return Gitea, true
	case first(h, hGitLabToken, hGitLabEvent) != "":
		return GitLab, true
	case first(h, hBerthSig, hBerthEvent, hBerthDelivery) != "":
		return Generic, true
	case first(h, hGitHubSig, hGitHubEvent) != "":
		return GitHub, true
	}
	return "", false
}

// Verify checks that body was sent by the holder of secret and says which
// provider sent it:
//
//   - GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>
//   - GitLab: X-Gitlab-Token equal to secret
//   - Gitea/Forgejo/Gogs: X-Gitea-Signature (or X-Forgejo-Signature,
//     X-Gogs-Signature): <hex HMAC-SHA256(secret, body)>; their
//     X-Hub-Signature-256 is accepted too
//   - generic: X-Berth-Signature: sha256=<hex HMAC-SHA256(secret, body)>
//
// body must be the exact bytes received. Errors wrap ErrNoSecret,
// ErrMissingSignature, ErrBadSignature or ErrUnknownProvider; the
// provider is returned with them when it could be told.
func Verify(h http.Header, body []byte, secret string) (Provider, error) {
	p, ok := Detect(h)
	if !ok {
		return "", ErrUnknownProvider
	}
	if secret == "" {
		return p, ErrNoSecret
	}
	switch p {
	case GitLab:
		tok := h.Get(hGitLabToken)
		if tok == "" {
			return p, fmt.Errorf("%w (GitLab sent no X-Gitlab-Token: fill in the webhook's Secret token)", ErrMissingSignature)
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(secret)) != 1 {
			return p, fmt.Errorf("%w (X-Gitlab-Token)", ErrBadSignature)
		}
		return p, nil
	case Gitea:
		if name, sig := firstNamed(h, hForgejoSig, hGiteaSig, hGogsSig); sig != "" {
			return p, checkHMAC(name, sig, "", body, secret)
		}
		if sig := h.Get(hGitHubSig); sig != "" {
			return p, checkHMAC(hGitHubSig, sig, "sha256=", body, secret)
		}
		return p, fmt.Errorf("%w (Gitea/Forgejo sent no X-Gitea-Signature: fill in the webhook's Secret)", ErrMissingSignature)
	case Generic:
		sig := h.Get(hBerthSig)
		if sig == "" {
			return p, fmt.Errorf("%w (no X-Berth-Signature: send sha256=<hex HMAC-SHA256 of the body keyed with the secret>)", ErrMissingSignature)
		}
		return p, checkHMAC(hBerthSig, sig, "sha256=", body, secret)
	default: // GitHub
		sig := h.Get(hGitHubSig)
		if sig == "" {
			return p, fmt.Errorf("%w (GitHub sent no X-Hub-Signature-256: fill in the webhook's Secret)", ErrMissingSignature)
		}
		return p, checkHMAC(hGitHubSig, sig, "sha256=", body, secret)
	}
}

// checkHMAC compares the hex HMAC-SHA256 in got (after prefix, when
// present) with the body's, in constant time.
func checkHMAC(header, got, prefix string, body []byte, secret string) error {
	got = strings.TrimSpace(got)
	if prefix != "" {
		var ok bool
		if got, ok = strings.CutPrefix(got, prefix); !ok {
			return fmt.Errorf("%w (%s must be %s<hex HMAC-SHA256>)", ErrBadSignature, header, prefix)
		}
	}
	sig, err := hex.DecodeString(got)
	if err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("%w (%s is not a hex SHA-256 HMAC)", ErrBadSignature, header)
	}
	if !hmac.Equal(sig, mac(body, secret)) {
		return fmt.Errorf("%w (%s)", ErrBadSignature, header)
	}
	return nil
}

func mac(body []byte, secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// Sign returns the X-Hub-Signature-256 / X-Berth-Signature value for body:
// "sha256=" and the hex HMAC-SHA256 keyed with secret. Gitea's
// X-Gitea-Signature is the same without the prefix.
func Sign(body []byte, secret string) string {
	return "sha256=" + hex.EncodeToString(mac(body, secret))
}

// first returns the first non-empty value of the named headers.
func first(h http.Header, names ...string) string {
	_, v := firstNamed(h, names...)
	return v
}

func firstNamed(h http.Header, names ...string) (string, string) {
	for _, n := range names {
		if v := strings.TrimSpace(h.Get(n)); v != "" {
			return n, v
		}
	}
	return "", ""
}
