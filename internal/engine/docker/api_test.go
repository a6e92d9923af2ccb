package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

// These tests run the backend against a scripted stand-in for the Docker
// Engine API, for what a real engine cannot be made to do on demand: a
// broken event stream, a registry that says "manifest unknown".

func newScripted(t *testing.T, h http.HandlerFunc) *Backend {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		io.WriteString(w, "OK")
	})
	mux.HandleFunc("/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b, err := New(Options{Host: "tcp://" + strings.TrimPrefix(srv.URL, "http://"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestBackend_WatchReconnectsAndAsksForResync(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	b := newScripted(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/events") {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		n := len(queries)
		queries = append(queries, r.URL.Query().Get("since"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch n {
		case 0: // one event, then the connection breaks
			fmt.Fprintf(w, `{"Type":"container","Action":"start","Actor":{"ID":"c1","Attributes":{"berth.app":"a"}},"timeNano":%d}`+"\n", time.Unix(100, 5).UnixNano())
		case 1: // a failed reconnect: the engine is restarting
			http.Error(w, `{"message":"restarting"}`, http.StatusServiceUnavailable)
		default:
			fmt.Fprintf(w, `{"Type":"container","Action":"die","Actor":{"ID":"c1","Attributes":{"berth.app":"a","exitCode":"137"}},"timeNano":%d}`+"\n", time.Unix(101, 0).UnixNano())
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch := b.Watch(ctx)
	var got []string
	for len(got) < 3 {
		select {
		case ev := <-ch:
			got = append(got, fmt.Sprintf("%s %s %d", ev.Type, ev.ContainerID, ev.ExitCode))
		case <-ctx.Done():
			t.Fatalf("events so far: %q", got)
		}
	}
	want := []string{"start c1 0", "resync  0", "die c1 137"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events %q, want %q", got, want)
	}
	mu.Lock()
	if queries[0] != "" || queries[len(queries)-1] != "100.000000005" {
		t.Errorf("since of each subscription: %q; want none, then the last event's time", queries)
	}
	mu.Unlock()
	cancel()
	for range ch { // closed when ctx ends
	}
}

func TestBackend_PullMapsRegistryAnswers(t *testing.T) {
	b := newScripted(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/images/create") {
			http.NotFound(w, r)
			return
		}
		switch r.URL.Query().Get("fromImage") {
		case "example.com/ok":
			io.WriteString(w, `{"status":"Pulling from ok","id":"1"}`+"\n"+`{"status":"Downloading","id":"abc","progress":"[=>  ] 1MB/2MB"}`+"\n")
		case "example.com/missing":
			io.WriteString(w, `{"status":"Pulling from missing","id":"1"}`+"\n"+`{"errorDetail":{"message":"manifest unknown: manifest unknown"},"error":"manifest unknown: manifest unknown"}`+"\n")
		case "example.com/denied":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"pull access denied for example.com/denied, repository does not exist or may require 'docker login'"}`)
		case "example.com/private":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"message":"Head \"https://example.com/v2/private/manifests/1\": unauthorized: authentication required"}`)
		default:
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"message":"Get \"https://example.com/v2/\": dial tcp: lookup example.com: no such host"}`)
		}
	})
	ctx := context.Background()
	var lines []string
	if err := b.PullImage(ctx, "example.com/ok:1", nil, func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[1] != "Downloading abc [=> ] 1MB/2MB" {
		t.Errorf("progress lines %q", lines)
	}
	for _, tc := range []struct {
		ref              string
		notFound, denied bool
	}{
		{"example.com/missing:1", true, false},
		{"example.com/denied:1", true, true}, // Docker Hub's answer for private and missing alike
		{"example.com/private:1", false, true},
	} {
		err := b.PullImage(ctx, tc.ref, nil, nil)
		if errors.Is(err, engine.ErrImageNotFound) != tc.notFound || errors.Is(err, engine.ErrRegistryDenied) != tc.denied {
			t.Errorf("pull %s: want ErrImageNotFound %t, ErrRegistryDenied %t, got %v", tc.ref, tc.notFound, tc.denied, err)
		}
	}
	err := b.PullImage(ctx, "example.com/unreachable:1", &engine.RegistryAuth{Server: "example.com", Username: "robot", Password: "x"}, nil)
	if err == nil || errors.Is(err, engine.ErrImageNotFound) || !strings.Contains(err.Error(), "registry could not be reached") {
		t.Errorf("unreachable registry: %v", err)
	}
}
