package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// slogLine is the access log line as log/slog's JSON handler writes it
// (the encoder's reference: the access log used the handler so before).
func slogLine(e *accessEntry) string {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{}
		}
		return a
	}})
	r := slog.NewRecord(e.end, slog.LevelInfo, "", 0)
	r.AddAttrs(
		slog.String("request_id", e.id),
		slog.String("method", e.method),
		slog.String("host", e.host),
		slog.String("path", e.path),
		slog.Int("status", e.status),
		slog.Int64("bytes", e.bytes),
		slog.Float64("duration", e.duration.Seconds()),
		slog.String("app", e.key.App),
		slog.String("env", e.key.Env),
		slog.String("service", e.key.Service),
		slog.String("release", e.release),
		slog.String("target", e.target),
		slog.String("client_addr", e.client),
		slog.String("user_agent", e.agent),
	)
	_ = h.Handle(context.Background(), r)
	return buf.String()
}

func sampleEntry() accessEntry {
	return accessEntry{end: time.Date(2026, 11, 27, 15, 4, 5, 123456789, time.UTC), id: "0123456789abcdef-00000001",
		method: "GET", host: "shop.test", path: "/", status: 200, bytes: 13, duration: 850 * time.Microsecond,
		key: RouteKey{App: "shop", Env: "production", Service: "web"}, release: "7", target: "web-1",
		client: "127.0.0.1:43210", agent: "curl/8.0"}
}

func TestAccessLog_LinesAsSlogWritesThem(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(e *accessEntry)
	}{
		{"plain", func(*accessEntry) {}},
		{"escapes", func(e *accessEntry) {
			e.path = "/a\"b\\c\x01\x1f\n\r\t\b\f\x7f<>&é\u2028\u2029\xff\xe2\x82"
			e.agent = "Mozilla/5.0 (X11; \u00e9\U0001F600)"
		}},
		{"no nanoseconds, a zone", func(e *accessEntry) {
			e.end = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
		}},
		{"durations", func(e *accessEntry) { e.duration = 12 * time.Nanosecond }},
		{"zero duration, empty strings", func(e *accessEntry) {
			e.duration, e.target, e.agent, e.release = 0, "", "", ""
		}},
		{"long duration, 499, large bytes", func(e *accessEntry) {
			e.duration, e.status, e.bytes = 100*time.Second, 499, 1<<40
		}},
	} {
		e := sampleEntry()
		tc.edit(&e)
		if got, want := string(e.appendJSON(nil)), slogLine(&e); got != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, want)
		}
	}
}

func FuzzAccessLogLine(f *testing.F) {
	f.Add("/a\"b\\\x01\u2028\xff", "curl/8.0", int64(850000), int64(1700000000123456789), 200)
	f.Add("", "", int64(0), int64(0), 0)
	f.Fuzz(func(t *testing.T, path, agent string, dur, unixNano int64, status int) {
		e := sampleEntry()
		e.path, e.agent, e.duration, e.status = path, agent, time.Duration(dur), status
		e.end = time.Unix(0, unixNano).UTC()
		if got, want := string(e.appendJSON(nil)), slogLine(&e); got != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

func BenchmarkAccessLog_Write(b *testing.B) {
	al := NewAccessLog(io.Discard)
	defer al.Close()
	e := sampleEntry()
	b.ReportAllocs()
	for b.Loop() {
		al.write(&e)
	}
}
