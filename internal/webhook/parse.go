package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Push is what berth needs from a push event.
type Push struct {
	Provider   Provider `json:"provider"`
	DeliveryID string   `json:"delivery_id,omitempty"`
	// Ref is the full ref pushed: refs/heads/<branch> or refs/tags/<tag>.
	Ref string `json:"ref"`
	// Branch is set for branch pushes, Tag for tag pushes.
	Branch string `json:"branch,omitempty"`
	Tag    string `json:"tag,omitempty"`
	// Commit is the pushed head (lowercase hex); Before the ref's previous
	// commit (all zeros for a new branch).
	Commit string `json:"commit"`
	Before string `json:"before,omitempty"`
	// Repo is the repository's HTTP(S) clone URL.
	Repo string `json:"repo,omitempty"`
	// Author is the head commit's author, else the pusher.
	Author      string `json:"author,omitempty"`
	AuthorEmail string `json:"author_email,omitempty"`
	// Message is the head commit's message.
	Message string `json:"message,omitempty"`
	// URL shows the change: the compare view, else the head commit.
	URL string `json:"url,omitempty"`
}

// person is a commit author or a pusher in any provider's shape.
type person struct {
	Name     string `json:"name"`
	FullName string `json:"full_name"` // Gitea pusher
	Login    string `json:"login"`     // Gitea pusher
	Username string `json:"username"`
	Email    string `json:"email"`
}

func (p person) name() string {
	for _, s := range []string{p.Name, p.FullName, p.Username, p.Login} {
		if s != "" {
			return s
		}
	}
	return ""
}

type commit struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	URL     string `json:"url"`
	Author  person `json:"author"`
}

type repo struct {
	CloneURL string `json:"clone_url"`    // GitHub, Gitea
	GitHTTP  string `json:"git_http_url"` // GitLab
	WebURL   string `json:"web_url"`      // GitLab project
	HTMLURL  string `json:"html_url"`     // GitHub, Gitea
}

// payload is the union of the push payloads of GitHub, Gitea/Forgejo,
// GitLab and the generic form (which takes GitHub's shape).
type payload struct {
	ObjectKind  string   `json:"object_kind"` // GitLab
	Ref         string   `json:"ref"`
	RefType     string   `json:"ref_type"` // Gitea create/delete events
	Before      string   `json:"before"`
	After       string   `json:"after"`
	CheckoutSHA *string  `json:"checkout_sha"` // GitLab; null on deletion
	Deleted     bool     `json:"deleted"`
	Compare     string   `json:"compare"`     // GitHub
	CompareURL  string   `json:"compare_url"` // Gitea
	HeadCommit  *commit  `json:"head_commit"`
	Commits     []commit `json:"commits"`
	Repository  repo     `json:"repository"`
	Project     repo     `json:"project"` // GitLab
	Pusher      person   `json:"pusher"`
	UserName    string   `json:"user_name"`  // GitLab
	UserEmail   string   `json:"user_email"` // GitLab
}

// Parse reads the push event in body, sent by p with headers h (for the
// event name and the delivery ID). It returns ErrNotAPush, wrapped with
// the reason, for pings, tag pushes, branch deletions and other events;
// for tag pushes and deletions the Push is filled in as far as it goes.
func Parse(p Provider, h http.Header, body []byte) (Push, error) {
	out := Push{Provider: p, DeliveryID: deliveryID(p, h)}
	event := eventName(p, h)
	switch {
	case event == "ping":
		return out, fmt.Errorf("%w: a ping (the webhook is set up; pushes will build)", ErrNotAPush)
	case event == "Tag Push Hook":
		// read on: reported as a tag push below
	case p == Gitea && event == "delete":
		return out, fmt.Errorf("%w: %s deleted", ErrNotAPush, refKind(body))
	case event != "" && event != "push" && event != "Push Hook" && event != "System Hook":
		return out, fmt.Errorf("%w: a %q event (berth builds push events; select only pushes in the webhook settings)", ErrNotAPush, event)
	}
	var pl payload
	if err := json.Unmarshal(body, &pl); err != nil {
		return out, fmt.Errorf("read %s push payload: %w", p, err)
	}
	if event == "System Hook" && pl.ObjectKind != "push" && pl.ObjectKind != "tag_push" {
		return out, fmt.Errorf("%w: a GitLab system hook for %q", ErrNotAPush, pl.ObjectKind)
	}
	out.Ref, out.Before = pl.Ref, strings.ToLower(pl.Before)
	out.Commit = strings.ToLower(pl.After)
	if pl.CheckoutSHA != nil && *pl.CheckoutSHA != "" {
		out.Commit = strings.ToLower(*pl.CheckoutSHA)
	}
	fill(&out, &pl)

	switch {
	case strings.HasPrefix(pl.Ref, "refs/heads/"):
		out.Branch = strings.TrimPrefix(pl.Ref, "refs/heads/")
	case strings.HasPrefix(pl.Ref, "refs/tags/"):
		out.Tag = strings.TrimPrefix(pl.Ref, "refs/tags/")
		if pl.Deleted || isZero(out.Commit) {
			return out, fmt.Errorf("%w: tag %s deleted", ErrNotAPush, out.Tag)
		}
		return out, fmt.Errorf("%w: tag %s pushed (berth builds branch pushes)", ErrNotAPush, out.Tag)
	case pl.Ref == "":
		return out, fmt.Errorf("read %s push payload: no ref", p)
	default:
		return out, fmt.Errorf("%w: ref %s is neither a branch nor a tag", ErrNotAPush, pl.Ref)
	}
	if pl.Deleted || isZero(out.Commit) {
		return out, fmt.Errorf("%w: branch %s deleted", ErrNotAPush, out.Branch)
	}
	if !validBranch(out.Branch) {
		return out, fmt.Errorf("read %s push payload: %q is not a valid branch name", p, out.Branch)
	}
	if !isHexID(out.Commit) {
		return out, fmt.Errorf("read %s push payload: %q is not a commit ID", p, out.Commit)
	}
	return out, nil
}

// fill copies the repository, author, message and link.
func fill(out *Push, pl *payload) {
	for _, u := range []string{pl.Repository.CloneURL, pl.Project.GitHTTP, pl.Repository.GitHTTP} {
		if u != "" {
			out.Repo = u
			break
		}
	}
	head := pl.HeadCommit
	if head == nil { // GitLab: the pushed commit is in commits[]
		for i := range pl.Commits {
			if strings.EqualFold(pl.Commits[i].ID, out.Commit) {
				head = &pl.Commits[i]
			}
		}
	}
	if head != nil {
		out.Message = strings.TrimRight(head.Message, "\n")
		out.Author, out.AuthorEmail = head.Author.name(), head.Author.Email
		out.URL = head.URL
	}
	if out.Author == "" {
		out.Author, out.AuthorEmail = pl.Pusher.name(), pl.Pusher.Email
	}
	if out.Author == "" {
		out.Author, out.AuthorEmail = pl.UserName, pl.UserEmail
	}
	switch {
	case pl.Compare != "":
		out.URL = pl.Compare
	case pl.CompareURL != "":
		out.URL = pl.CompareURL
	case pl.Project.WebURL != "" && out.Before != "" && !isZero(out.Before) && !isZero(out.Commit):
		out.URL = pl.Project.WebURL + "/-/compare/" + out.Before + "..." + out.Commit
	}
}

// eventName is the event header of p.
func eventName(p Provider, h http.Header) string {
	switch p {
	case GitHub:
		return first(h, hGitHubEvent)
	case GitLab:
		return first(h, hGitLabEvent)
	case Gitea:
		return first(h, hForgejoEvent, hGiteaEvent, hGogsEvent, hGitHubEvent)
	}
	return first(h, hBerthEvent)
}

// deliveryID is the provider's unique ID of the delivery. GitLab's
// Idempotency-Key stays the same when a delivery is retried, so it is
// preferred to X-Gitlab-Event-UUID.
func deliveryID(p Provider, h http.Header) string {
	switch p {
	case GitHub:
		return first(h, hGitHubDeliv)
	case GitLab:
		return first(h, hIdempotency, hGitLabUUID)
	case Gitea:
		return first(h, hForgejoDeliv, hGiteaDeliv, hGogsDeliv, hGitHubDeliv)
	}
	return first(h, hBerthDelivery)
}

// refKind reads a Gitea delete event: "branch x" or "tag v1".
func refKind(body []byte) string {
	var pl payload
	if json.Unmarshal(body, &pl) != nil || pl.Ref == "" {
		return "a ref"
	}
	kind := pl.RefType
	if kind == "" {
		kind = "ref"
	}
	return kind + " " + pl.Ref
}

func isZero(id string) bool { return strings.Trim(id, "0") == "" }

// isHexID accepts SHA-1 and SHA-256 commit IDs (possibly abbreviated).
func isHexID(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validBranch applies git check-ref-format's rules, so the name can be
// passed to git (it never starts with "-").
func validBranch(b string) bool {
	if b == "" || b == "@" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") ||
		strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") || strings.Contains(b, "/.") ||
		strings.HasPrefix(b, ".") {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c) {
			return false
		}
	}
	return true
}
