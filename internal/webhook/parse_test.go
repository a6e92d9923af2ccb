package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestParse_Pushes(t *testing.T) {
	gh := fixture(t, "github_push.json")
	gl := fixture(t, "gitlab_push.json")
	gt := fixture(t, "gitea_push.json")
	gen := fixture(t, "generic_push.json")
	cases := []struct {
		name string
		p    Provider
		h    http.Header
		body []byte
		want Push
	}{
		{"github", GitHub, githubHeaders("push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", gh, secret), gh, Push{
			Provider: GitHub, DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Ref: "refs/heads/main", Branch: "main",
			Commit: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", Before: "9049f1265b7d61be4a8904a9a27120d2064dab3b",
			Repo: "https://github.com/acme/shop.git", Author: "Ana Lima", AuthorEmail: "ana@acme.example",
			Message: "Fix checkout total rounding\n\nCloses #42", URL: "https://github.com/acme/shop/compare/9049f1265b7d...0d1a26e67d8f",
		}},
		{"gitlab", GitLab, gitlabHeaders("Push Hook", "e2b6e1a4-0c3b-4c57-a1de-0d1b8b6a1c3f", "", secret), gl, Push{
			Provider: GitLab, DeliveryID: "e2b6e1a4-0c3b-4c57-a1de-0d1b8b6a1c3f", Ref: "refs/heads/production", Branch: "production",
			Commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
			Repo: "https://gitlab.acme.example/acme/shop.git", Author: "GitLab dev user", AuthorEmail: "gitlabdev@dv6700.(none)",
			Message: "Bump the image cache size",
			URL:     "https://gitlab.acme.example/acme/shop/-/compare/95790bf891e76fee5e1747ab589903a6a1f80f22...da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
		}},
		{"gitlab idempotency key wins", GitLab, gitlabHeaders("Push Hook", "e2b6e1a4", "9f1c0a5e-retry-stable", secret), gl, Push{
			Provider: GitLab, DeliveryID: "9f1c0a5e-retry-stable", Ref: "refs/heads/production", Branch: "production",
			Commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
			Repo: "https://gitlab.acme.example/acme/shop.git", Author: "GitLab dev user", AuthorEmail: "gitlabdev@dv6700.(none)",
			Message: "Bump the image cache size",
			URL:     "https://gitlab.acme.example/acme/shop/-/compare/95790bf891e76fee5e1747ab589903a6a1f80f22...da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
		}},
		{"gitea", Gitea, giteaHeaders("push", "0b4c6f5e-1d2e-4f3a-8b9c-0d1e2f3a4b5c", gt, secret), gt, Push{
			Provider: Gitea, DeliveryID: "0b4c6f5e-1d2e-4f3a-8b9c-0d1e2f3a4b5c", Ref: "refs/heads/master", Branch: "master",
			Commit: "bffeb74224043ba2feb48d137756c8a9331c449a", Before: "28e1879d029cb852e4844d9c718537df08844e03",
			Repo: "https://git.acme.example/acme/shop.git", Author: "Chen Wei", AuthorEmail: "chen@acme.example",
			Message: "Add the /up health endpoint",
			URL:     "https://git.acme.example/acme/shop/compare/28e1879d029cb852e4844d9c718537df08844e03...bffeb74224043ba2feb48d137756c8a9331c449a",
		}},
		{"forgejo", Gitea, forgejoHeaders("push", "fj-1", gt, secret), gt, Push{
			Provider: Gitea, DeliveryID: "fj-1", Ref: "refs/heads/master", Branch: "master",
			Commit: "bffeb74224043ba2feb48d137756c8a9331c449a", Before: "28e1879d029cb852e4844d9c718537df08844e03",
			Repo: "https://git.acme.example/acme/shop.git", Author: "Chen Wei", AuthorEmail: "chen@acme.example",
			Message: "Add the /up health endpoint",
			URL:     "https://git.acme.example/acme/shop/compare/28e1879d029cb852e4844d9c718537df08844e03...bffeb74224043ba2feb48d137756c8a9331c449a",
		}},
		{"generic", Generic, genericHeaders("ci-run-881", gen, secret), gen, Push{
			Provider: Generic, DeliveryID: "ci-run-881", Ref: "refs/heads/staging", Branch: "staging",
			Commit: "4c1e9f0a7d2b3e5f6a8b9c0d1e2f3a4b5c6d7e8f", Before: "0000000000000000000000000000000000000000",
			Repo: "file:///srv/git/shop.git", Author: "Dana Ross", AuthorEmail: "dana@acme.example", Message: "Release staging build",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Verify(tc.h, tc.body, secret)
			if err != nil || p != tc.p {
				t.Fatalf("Verify = %q, %v", p, err)
			}
			got, err := Parse(p, tc.h, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParse_NotPushes(t *testing.T) {
	gh := fixture(t, "github_push.json")
	cases := []struct {
		name   string
		p      Provider
		h      http.Header
		body   []byte
		reason string
		want   Push // the fields filled in beside the error, when checked
	}{
		{"github ping", GitHub, githubHeaders("ping", "p1", nil, secret), fixture(t, "github_ping.json"), "a ping", Push{}},
		{"github tag", GitHub, githubHeaders("push", "t1", nil, secret), fixture(t, "github_tag.json"), "tag v1.4.0 pushed", Push{Tag: "v1.4.0", Commit: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}},
		{"github branch deleted", GitHub, githubHeaders("push", "x1", nil, secret), fixture(t, "github_delete.json"), "branch feature/old-cart deleted", Push{Branch: "feature/old-cart"}},
		{"github issues event", GitHub, githubHeaders("issues", "i1", nil, secret), []byte(`{"action":"opened"}`), `"issues" event`, Push{}},
		{"gitlab tag", GitLab, gitlabHeaders("Tag Push Hook", "u", "", secret), fixture(t, "gitlab_tag.json"), "tag v1.0.0 pushed", Push{Tag: "v1.0.0"}},
		{"gitlab branch deleted", GitLab, gitlabHeaders("Push Hook", "u", "", secret), fixture(t, "gitlab_delete.json"), "branch old-cart deleted", Push{Branch: "old-cart"}},
		{"gitlab merge request", GitLab, gitlabHeaders("Merge Request Hook", "u", "", secret), []byte(`{"object_kind":"merge_request"}`), "Merge Request Hook", Push{}},
		{"gitlab system hook, not a push", GitLab, gitlabHeaders("System Hook", "u", "", secret), []byte(`{"object_kind":"repository_update"}`), "system hook", Push{}},
		{"gitea branch deleted", Gitea, giteaHeaders("delete", "g", nil, secret), fixture(t, "gitea_delete.json"), "branch old-cart deleted", Push{}},
		{"gitea create", Gitea, giteaHeaders("create", "g", nil, secret), []byte(`{"ref":"new","ref_type":"branch"}`), `"create" event`, Push{}},
		{"generic ping", Generic, hdr("X-Berth-Event", "ping"), []byte(`{}`), "a ping", Push{}},
		{"github remote ref", GitHub, githubHeaders("push", "r", nil, secret), []byte(`{"ref":"refs/notes/commits","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}`), "neither a branch nor a tag", Push{}},
		{"github tag deleted", GitHub, githubHeaders("push", "td", nil, secret), []byte(`{"ref":"refs/tags/v1","after":"0000000000000000000000000000000000000000","deleted":true}`), "tag v1 deleted", Push{Tag: "v1"}},
		{"github push, event header is case-insensitive", GitHub, hdr("x-github-event", "ping"), gh, "a ping", Push{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.p, tc.h, tc.body)
			if !errors.Is(err, ErrNotAPush) {
				t.Fatalf("Parse = %+v, %v; want ErrNotAPush", got, err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("reason %q lacks %q", err, tc.reason)
			}
			if tc.want.Tag != "" && got.Tag != tc.want.Tag || tc.want.Branch != "" && got.Branch != tc.want.Branch ||
				tc.want.Commit != "" && got.Commit != tc.want.Commit {
				t.Errorf("got %+v, want fields of %+v", got, tc.want)
			}
		})
	}
}

func TestParse_RefusesWhatGitMustNotSee(t *testing.T) {
	for name, body := range map[string]string{
		"option as commit":   `{"ref":"refs/heads/main","after":"--upload-pack=touch${IFS}/tmp/x"}`,
		"short commit":       `{"ref":"refs/heads/main","after":"abc"}`,
		"option as branch":   `{"ref":"refs/heads/-x","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}`,
		"dotdot branch":      `{"ref":"refs/heads/a..b","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}`,
		"space in branch":    `{"ref":"refs/heads/a b","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}`,
		"control in branch":  "{\"ref\":\"refs/heads/a\\u0001\",\"after\":\"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\"}",
		"no ref":             `{"after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}`,
		"not json":           `ref=refs/heads/main`,
		"branch ending lock": `{"ref":"refs/heads/main.lock","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}`,
	} {
		_, err := Parse(GitHub, hdr("X-GitHub-Event", "push"), []byte(body))
		if err == nil || errors.Is(err, ErrNotAPush) {
			t.Errorf("%s: Parse = %v, want a payload error", name, err)
		}
	}
	// An upper-case SHA (some tools send them) is normalised, not refused.
	p, err := Parse(Generic, hdr(), []byte(`{"ref":"refs/heads/feature/x","after":"0D1A26E67D8F5EAF1F6BA5C57FC3C7D91AC0FD1C"}`))
	if err != nil || p.Commit != "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c" || p.Branch != "feature/x" {
		t.Fatalf("Parse = %+v, %v", p, err)
	}
}

func TestParse_AuthorFallsBackToPusher(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
		"pusher":{"login":"chen","full_name":"Chen Wei","email":"chen@acme.example"}}`)
	p, err := Parse(Gitea, hdr("X-Gitea-Event", "push"), body)
	if err != nil || p.Author != "Chen Wei" || p.AuthorEmail != "chen@acme.example" {
		t.Fatalf("Parse = %+v, %v", p, err)
	}
	gl := []byte(`{"object_kind":"push","ref":"refs/heads/main","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","checkout_sha":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","user_name":"Bo","user_email":"bo@acme.example","commits":[]}`)
	if p, err := Parse(GitLab, hdr("X-Gitlab-Event", "Push Hook"), gl); err != nil || p.Author != "Bo" || p.AuthorEmail != "bo@acme.example" {
		t.Fatalf("gitlab: %+v, %v", p, err)
	}
}
