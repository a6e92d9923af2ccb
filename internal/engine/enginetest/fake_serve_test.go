package enginetest_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
)

// A container of a served image answers HTTP on its own loopback
// address while it runs, and refuses connections once stopped.
func TestFake_ServeAnswersWhileRunning(t *testing.T) {
	t.Parallel()
	f := enginetest.NewFake()
	f.AddImage("app:1", "")
	f.Serve(t, "app:1", 8080, func(c engine.Container) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, c.Name) })
	})
	ctx := context.Background()
	c, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "web-1", Image: "app:1"})
	if err != nil {
		t.Fatal(err)
	}
	addr := f.Listening(c.ID)
	if want := net.JoinHostPort(c.Addresses["bridge"], "8080"); addr != want {
		t.Fatalf("listening on %q, want %q (its address)", addr, want)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "web-1" {
		t.Errorf("answer %q, want web-1", body)
	}
	if err := f.StopContainer(ctx, c.ID, 0); err != nil {
		t.Fatal(err)
	}
	if f.Listening(c.ID) != "" {
		t.Error("a stopped container still listens")
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Error("a stopped container accepted a connection")
	}
}
