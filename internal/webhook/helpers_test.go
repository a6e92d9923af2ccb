package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

const secret = "whsec-3c9f2b1e7a"

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexMAC(body []byte, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// The headers each provider sends with a push, signed with key over body
// the way that provider signs.

func githubHeaders(event, delivery string, body []byte, key string) http.Header {
	return hdr("User-Agent", "GitHub-Hookshot/a1b2c3d", "Content-Type", "application/json",
		"X-GitHub-Event", event, "X-GitHub-Delivery", delivery, "X-GitHub-Hook-ID", "479212345",
		"X-Hub-Signature", "sha1=ignored", "X-Hub-Signature-256", "sha256="+hexMAC(body, key))
}

func gitlabHeaders(event, uuid, idem, token string) http.Header {
	h := hdr("User-Agent", "GitLab/17.5.1", "Content-Type", "application/json",
		"X-Gitlab-Event", event, "X-Gitlab-Event-UUID", uuid, "X-Gitlab-Instance", "https://gitlab.acme.example",
		"X-Gitlab-Webhook-UUID", "2b8a5f0c-7e61-4d8e-9f2a-1c3b5d7e9f01", "X-Gitlab-Token", token)
	if idem != "" {
		h.Set("Idempotency-Key", idem)
	}
	return h
}

// giteaHeaders are what Gitea 1.22 sends: its own headers, Gogs' and
// GitHub's for compatibility.
func giteaHeaders(event, delivery string, body []byte, key string) http.Header {
	sig := hexMAC(body, key)
	return hdr("User-Agent", "Go-http-client/1.1", "Content-Type", "application/json",
		"X-Gitea-Event", event, "X-Gitea-Event-Type", event, "X-Gitea-Delivery", delivery, "X-Gitea-Signature", sig,
		"X-Gogs-Event", event, "X-Gogs-Delivery", delivery, "X-Gogs-Signature", sig,
		"X-GitHub-Event", event, "X-GitHub-Delivery", delivery, "X-Hub-Signature-256", "sha256="+sig)
}

func forgejoHeaders(event, delivery string, body []byte, key string) http.Header {
	h := giteaHeaders(event, delivery, body, key)
	sig := hexMAC(body, key)
	h.Set("X-Forgejo-Event", event)
	h.Set("X-Forgejo-Delivery", delivery)
	h.Set("X-Forgejo-Signature", sig)
	return h
}

func genericHeaders(delivery string, body []byte, key string) http.Header {
	return hdr("Content-Type", "application/json", "X-Berth-Delivery", delivery, "X-Berth-Signature", Sign(body, key))
}
