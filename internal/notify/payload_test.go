package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

type request struct {
	path, contentType, event string
	body                     []byte
}

// receiver is a local HTTP receiver that hands each request to the test.
func receiver(t *testing.T) (*httptest.Server, <-chan request) {
	t.Helper()
	got := make(chan request, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- request{r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("X-Berth-Event"), b}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func next(t *testing.T, got <-chan request) request {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the receiver within 10s")
		return request{}
	}
}

func TestNotifier_SlackAndWebhookPayloads(t *testing.T) {
	srv, got := receiver(t)
	n := New(Options{Targets: targets(Target{KindSlack, srv.URL + "/services/T0/B0/secret"}, Target{KindWebhook, srv.URL + "/hook"})})
	run(t, n)
	ev := Event{Kind: DeployFailed, App: "shop", Env: "production", Commit: "3f2a9c1d3f2a9c1d3f2a9c1d3f2a9c1d3f2a9c1d",
		Author: "Ana Lima", Duration: 1540 * time.Millisecond, LogsURL: "http://127.0.0.1:7070/builds/7",
		Message: "release 8 refused: web <never healthy> & rolled back", Time: time.Date(2024, 11, 14, 10, 0, 0, 0, time.UTC)}
	n.Send(ev)
	for range 2 {
		r := next(t, got)
		if r.contentType != "application/json" {
			t.Errorf("%s: Content-Type %q", r.path, r.contentType)
		}
		switch r.path {
		case "/services/T0/B0/secret":
			var m map[string]any
			if err := json.Unmarshal(r.body, &m); err != nil || len(m) != 1 {
				t.Fatalf("slack body %s: %v", r.body, err)
			}
			want := "*Deploy failed* shop/production: release 8 refused: web &lt;never healthy&gt; &amp; rolled back\n" +
				"commit 3f2a9c1d3f2a by Ana Lima, took 1.5s, <http://127.0.0.1:7070/builds/7|logs>"
			if m["text"] != want {
				t.Errorf("slack text\n%q\nwant\n%q", m["text"], want)
			}
		case "/hook":
			var back Event
			if err := json.Unmarshal(r.body, &back); err != nil || back != ev {
				t.Errorf("webhook body %s decodes to %+v (%v), want %+v", r.body, back, err, ev)
			}
			if r.event != DeployFailed {
				t.Errorf("X-Berth-Event %q", r.event)
			}
		default:
			t.Errorf("unexpected request to %s", r.path)
		}
	}
}

func TestSlackText_Kinds(t *testing.T) {
	for _, tc := range []struct {
		ev   Event
		want string
	}{
		{Event{Kind: BuildStarted, App: "shop", Env: "staging", Commit: "abc1234", Author: "Bo", Message: "build 3 of master started"},
			"*Build started* shop/staging: build 3 of master started\ncommit abc1234 by Bo"},
		{Event{Kind: BuildSucceeded, App: "shop", Env: "staging", Duration: 83 * time.Second},
			"*Build succeeded* shop/staging\ntook 1m23s"},
		{Event{Kind: BuildFailed, App: "shop", Author: "Bo"}, "*Build failed* shop\nby Bo"},
		{Event{Kind: DeploySucceeded, App: "shop", Env: "production", Duration: 420 * time.Millisecond},
			"*Deploy succeeded* shop/production\ntook 420ms"},
		{Event{Kind: Rollback, App: "shop", Env: "production", Message: "rolled back to release 6 (from 7)"},
			"*Rolled back* shop/production: rolled back to release 6 (from 7)"},
	} {
		if got := SlackText(tc.ev); got != tc.want {
			t.Errorf("SlackText(%s) =\n%q\nwant\n%q", tc.ev.Kind, got, tc.want)
		}
		if strings.ContainsAny(SlackText(tc.ev), ":") && strings.Contains(SlackText(tc.ev), ":white_check_mark:") {
			t.Error("emoji in the text")
		}
	}
}

func TestNotifier_UnknownTargetKindIsNotSent(t *testing.T) {
	srv, got := receiver(t)
	buf := &testutil.SyncBuffer{}
	n := New(Options{Targets: targets(Target{"teams", srv.URL + "/teams"}, Target{KindWebhook, srv.URL + "/hook"}), Logger: testLogger(buf)})
	run(t, n)
	n.Send(Event{Kind: BuildStarted, App: "shop"})
	if r := next(t, got); r.path != "/hook" {
		t.Fatalf("request to %s", r.path)
	}
	select {
	case r := <-got:
		t.Fatalf("unexpected request to %s", r.path)
	default:
	}
}

// A receiver that never answers delays neither the caller nor the other
// targets.
func TestNotifier_HangingReceiverBlocksNothing(t *testing.T) {
	hang := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(hang) }) // runs before hung.Close
	srv, got := receiver(t)
	n := New(Options{Targets: targets(Target{KindWebhook, hung.URL}, Target{KindWebhook, srv.URL + "/ok"}),
		Queue: 8, TargetQueue: 4, Timeout: time.Minute, Logger: testLogger(&testutil.SyncBuffer{})})
	run(t, n)

	sent := make(chan struct{})
	go func() {
		for i := range 1000 {
			n.Send(Event{Kind: BuildStarted, App: "shop", Message: string(rune('a' + i%26))})
		}
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(10 * time.Second):
		t.Fatal("Send blocked behind a hanging receiver")
	}
	next(t, got) // the healthy target is served while the other hangs
	if n.Dropped() == 0 {
		t.Error("a full queue dropped nothing")
	}
}
