package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Kinds of events.
const (
	BuildStarted    = "build_started"
	BuildSucceeded  = "build_succeeded"
	BuildFailed     = "build_failed"
	DeploySucceeded = "deploy_succeeded"
	DeployFailed    = "deploy_failed"
	Rollback        = "rollback"
	// An app environment removed (berth apps remove, berth env remove).
	Removed      = "removed"
	RemoveFailed = "remove_failed"
	// Self-healing: a failed container could not be replaced; no replica
	// of a service works.
	ReplaceFailed = "replace_failed"
	AllFailing    = "all_failing"
	// A scheduled job's run failed or timed out (x-berth.jobs).
	JobFailed = "job_failed"
	// A backup of a volume failed (berth backup, x-berth.backups).
	BackupFailed = "backup_failed"
)

// Event is one notification. A generic webhook receives it as JSON.
type Event struct {
	Kind     string        `json:"kind"`
	App      string        `json:"app"`
	Env      string        `json:"env"`
	Commit   string        `json:"commit,omitempty"`
	Author   string        `json:"author,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	LogsURL  string        `json:"logs_url,omitempty"`
	Message  string        `json:"message"`
	Time     time.Time     `json:"time"`
}

// Target kinds.
const (
	KindSlack   = "slack"
	KindWebhook = "webhook"
)

// Target is where an app's notifications go.
type Target struct {
	Kind string `json:"kind"` // "slack" or "webhook"
	URL  string `json:"url"`
}

// payload is the request body for t: Slack's {"text": ...} or the event
// itself.
func payload(t Target, ev Event) ([]byte, error) {
	switch t.Kind {
	case KindSlack:
		return json.Marshal(struct {
			Text string `json:"text"`
		}{SlackText(ev)})
	case KindWebhook, "":
		return json.Marshal(ev)
	}
	return nil, fmt.Errorf("notification target kind %q: use %q or %q", t.Kind, KindSlack, KindWebhook)
}

// SlackText is the one-message summary sent to Slack-compatible
// receivers, in Slack's mrkdwn, for example:
//
//	*Deploy succeeded* shop/production: release 7 is live
//	commit 3f2a9c1d3f2a by Ana Lima, took 1.5s, <https://berth/builds/7|logs>
func SlackText(ev Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* %s", Label(ev.Kind), slackEscape(ev.App))
	if ev.Env != "" {
		b.WriteString("/" + slackEscape(ev.Env))
	}
	if ev.Message != "" {
		b.WriteString(": " + slackEscape(ev.Message))
	}
	var details []string
	if ev.Commit != "" {
		c := "commit " + slackEscape(shortSHA(ev.Commit))
		if ev.Author != "" {
			c += " by " + slackEscape(ev.Author)
		}
		details = append(details, c)
	} else if ev.Author != "" {
		details = append(details, "by "+slackEscape(ev.Author))
	}
	if ev.Duration > 0 {
		details = append(details, "took "+roundDuration(ev.Duration).String())
	}
	if ev.LogsURL != "" {
		details = append(details, "<"+slackEscape(ev.LogsURL)+"|logs>")
	}
	if len(details) > 0 {
		b.WriteString("\n" + strings.Join(details, ", "))
	}
	return b.String()
}

// Label is the human name of an event kind.
func Label(kind string) string {
	switch kind {
	case BuildStarted:
		return "Build started"
	case BuildSucceeded:
		return "Build succeeded"
	case BuildFailed:
		return "Build failed"
	case DeploySucceeded:
		return "Deploy succeeded"
	case DeployFailed:
		return "Deploy failed"
	case Rollback:
		return "Rolled back"
	case Removed:
		return "Removed"
	case RemoveFailed:
		return "Removal failed"
	case ReplaceFailed:
		return "Replacement failed"
	case AllFailing:
		return "Every replica failing"
	case JobFailed:
		return "Job failed"
	case BackupFailed:
		return "Backup failed"
	}
	return kind
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// shortSHA is the 12-character form berth tags images with.
func shortSHA(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
