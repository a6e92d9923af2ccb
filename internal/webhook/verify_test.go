package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestVerify_Providers(t *testing.T) {
	gh := fixture(t, "github_push.json")
	gl := fixture(t, "gitlab_push.json")
	gt := fixture(t, "gitea_push.json")
	gen := fixture(t, "generic_push.json")
	del := func(h http.Header, names ...string) http.Header {
		for _, n := range names {
			h.Del(n)
		}
		return h
	}
	set := func(h http.Header, k, v string) http.Header { h.Set(k, v); return h }
	cases := []struct {
		name string
		h    http.Header
		body []byte
		want Provider
		err  error
	}{
		{"github", githubHeaders("push", "d1", gh, secret), gh, GitHub, nil},
		{"github wrong secret", githubHeaders("push", "d1", gh, "other"), gh, GitHub, ErrBadSignature},
		{"github tampered body", githubHeaders("push", "d1", gh, secret), append([]byte(" "), gh...), GitHub, ErrBadSignature},
		{"github not hex", set(githubHeaders("push", "d1", gh, secret), "X-Hub-Signature-256", "sha256=zz"), gh, GitHub, ErrBadSignature},
		{"github no prefix", set(githubHeaders("push", "d1", gh, secret), "X-Hub-Signature-256", hexMAC(gh, secret)), gh, GitHub, ErrBadSignature},
		{"github short mac", set(githubHeaders("push", "d1", gh, secret), "X-Hub-Signature-256", "sha256="+hexMAC(gh, secret)[:40]), gh, GitHub, ErrBadSignature},
		{"github no secret set on GitHub", del(githubHeaders("push", "d1", gh, secret), "X-Hub-Signature-256", "X-Hub-Signature"), gh, GitHub, ErrMissingSignature},
		{"gitlab", gitlabHeaders("Push Hook", "u1", "", secret), gl, GitLab, nil},
		{"gitlab wrong token", gitlabHeaders("Push Hook", "u1", "", secret+"x"), gl, GitLab, ErrBadSignature},
		{"gitlab token prefix", gitlabHeaders("Push Hook", "u1", "", secret[:4]), gl, GitLab, ErrBadSignature},
		{"gitlab no token", del(gitlabHeaders("Push Hook", "u1", "", secret), "X-Gitlab-Token"), gl, GitLab, ErrMissingSignature},
		{"gitea", giteaHeaders("push", "g1", gt, secret), gt, Gitea, nil},
		{"gitea wrong secret", giteaHeaders("push", "g1", gt, "other"), gt, Gitea, ErrBadSignature},
		{"gitea only the GitHub-style signature", del(giteaHeaders("push", "g1", gt, secret), "X-Gitea-Signature", "X-Gogs-Signature"), gt, Gitea, nil},
		{"gitea unsigned", del(giteaHeaders("push", "g1", gt, secret), "X-Gitea-Signature", "X-Gogs-Signature", "X-Hub-Signature-256"), gt, Gitea, ErrMissingSignature},
		{"forgejo", forgejoHeaders("push", "f1", gt, secret), gt, Gitea, nil},
		{"forgejo wrong secret", forgejoHeaders("push", "f1", gt, "other"), gt, Gitea, ErrBadSignature},
		{"generic", genericHeaders("b1", gen, secret), gen, Generic, nil},
		{"generic wrong secret", genericHeaders("b1", gen, "other"), gen, Generic, ErrBadSignature},
		{"generic unsigned", del(genericHeaders("b1", gen, secret), "X-Berth-Signature"), gen, Generic, ErrMissingSignature},
		{"unknown sender", hdr("Content-Type", "application/json", "User-Agent", "curl/8.5.0"), gen, "", ErrUnknownProvider},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Verify(tc.h, tc.body, secret)
			if p != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Verify = %q, %v; want %q, %v", p, err, tc.want, tc.err)
			}
		})
	}
}

func TestVerify_EmptySecretVerifiesNothing(t *testing.T) {
	body := fixture(t, "github_push.json")
	for name, h := range map[string]http.Header{
		"github": githubHeaders("push", "d1", body, ""),
		"gitlab": gitlabHeaders("Push Hook", "u1", "", ""),
		"gitea":  giteaHeaders("push", "g1", body, ""),
	} {
		if _, err := Verify(h, body, ""); !errors.Is(err, ErrNoSecret) {
			t.Errorf("%s with no secret configured: %v, want ErrNoSecret", name, err)
		}
	}
}

func TestVerify_ErrorsSayWhatToConfigure(t *testing.T) {
	for _, err := range []error{ErrNoSecret, ErrMissingSignature, ErrBadSignature, ErrUnknownProvider} {
		if msg := err.Error(); !strings.Contains(msg, "secret") && !strings.Contains(msg, "X-Berth-Signature") {
			t.Errorf("%q does not say what to configure", msg)
		}
	}
	_, err := Verify(hdr("X-GitHub-Event", "push"), []byte("{}"), secret)
	if !strings.Contains(err.Error(), "X-Hub-Signature-256") {
		t.Errorf("missing GitHub signature: %q does not name the header", err)
	}
}

func TestSign_MatchesGitHub(t *testing.T) {
	// The example from GitHub's documentation on validating deliveries.
	got := Sign([]byte("Hello, World!"), "It's a Secret to Everybody")
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestDetect_GiteaBeforeGitHub(t *testing.T) {
	body := fixture(t, "gitea_push.json")
	if p, _ := Detect(giteaHeaders("push", "g1", body, secret)); p != Gitea {
		t.Fatalf("Gitea's request (with GitHub's headers too) detected as %q", p)
	}
}
