package webhook

import (
	"errors"
	"net/http"
	"testing"
)

const githubPush = `{"ref":"refs/heads/main","before":"1111111111111111111111111111111111111111","after":"3f2a9c1d3f2a9c1d3f2a9c1d3f2a9c1d3f2a9c1d","deleted":false,
"repository":{"clone_url":"https://git.example/shop.git"},"pusher":{"name":"ana"},
"head_commit":{"message":"Fix checkout","author":{"name":"Ana Lima"}}}`

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestVerify_Providers(t *testing.T) {
	body := []byte(githubPush)
	sig := Sign(body, "s3cret")
	cases := []struct {
		name string
		h    http.Header
		want Provider
		err  error
	}{
		{"github", hdr("X-Hub-Signature-256", sig), GitHub, nil},
		{"github wrong secret", hdr("X-Hub-Signature-256", Sign(body, "other")), GitHub, ErrBadSignature},
		{"github garbage", hdr("X-Hub-Signature-256", "sha256=zz"), GitHub, ErrBadSignature},
		{"gitea", hdr("X-Gitea-Signature", sig[len("sha256="):]), Gitea, nil},
		{"generic", hdr("X-Berth-Signature", sig), Generic, nil},
		{"gitlab", hdr("X-Gitlab-Token", "s3cret"), GitLab, nil},
		{"gitlab wrong", hdr("X-Gitlab-Token", "nope"), GitLab, ErrBadSignature},
		{"none", hdr(), "", ErrMissingSignature},
	}
	for _, tc := range cases {
		p, err := Verify(tc.h, body, "s3cret")
		if p != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s: got %q %v, want %q %v", tc.name, p, err, tc.want, tc.err)
		}
	}
	// A body changed after signing fails.
	if _, err := Verify(hdr("X-Hub-Signature-256", sig), append(body, ' '), "s3cret"); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered body: %v", err)
	}
}

func TestParse_PushAndNotPushes(t *testing.T) {
	p, err := Parse(GitHub, hdr("X-GitHub-Event", "push", "X-GitHub-Delivery", "d-1"), []byte(githubPush))
	if err != nil {
		t.Fatal(err)
	}
	want := Push{Provider: GitHub, DeliveryID: "d-1", Branch: "main", Commit: "3f2a9c1d3f2a9c1d3f2a9c1d3f2a9c1d3f2a9c1d", Repo: "https://git.example/shop.git", Author: "Ana Lima", Message: "Fix checkout"}
	if p != want {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
	gl := `{"ref":"refs/heads/production","checkout_sha":"abcdef1234","user_name":"bo","repository":{"git_http_url":"https://gl.example/shop.git"}}`
	if p, err := Parse(GitLab, hdr("X-Gitlab-Event", "Push Hook", "X-Gitlab-Event-UUID", "u-1"), []byte(gl)); err != nil || p.Branch != "production" || p.Commit != "abcdef1234" || p.Author != "bo" || p.DeliveryID != "u-1" {
		t.Fatalf("gitlab: %+v %v", p, err)
	}
	for name, tc := range map[string]struct {
		h    http.Header
		body string
	}{
		"ping":    {hdr("X-GitHub-Event", "ping"), `{"zen":"x"}`},
		"tag":     {hdr("X-GitHub-Event", "push"), `{"ref":"refs/tags/v1","after":"abc"}`},
		"deleted": {hdr("X-GitHub-Event", "push"), `{"ref":"refs/heads/x","after":"0000000000000000000000000000000000000000","deleted":true}`},
		"issues":  {hdr("X-GitHub-Event", "issues"), `{}`},
	} {
		if _, err := Parse(GitHub, tc.h, []byte(tc.body)); !errors.Is(err, ErrNotAPush) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
