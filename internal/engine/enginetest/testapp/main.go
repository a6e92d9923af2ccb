// Command testapp is the web server berth's tests deploy: GET / answers
// $VERSION, GET /up is the health check (500 when UNHEALTHY=1), GET
// /slow?ms=N answers after N ms, and SIGTERM stops it gracefully.
// GET /env?name=X answers the variable X; /write?path=P&data=D writes a
// file and /read?path=P reads it; /fetch?url=U
// proxies a GET to another service; /exit?code=N crashes the process;
// /alloc?mb=N allocates (and touches) N MiB; POST /upload (and
// /upload/…) reads the whole body and answers its length (400 when the
// body cannot be read). CRASH=1 makes it exit 1 at
// once, for refused-release tests. As a one-off command: `print WORDS…`
// prints them, `env NAME` prints a variable, `stubborn N` ignores SIGTERM
// for N seconds, `exit N` exits with N, `write PATH DATA` writes a file (`fill PATH N`: N bytes), `copy SRC DST`
// copies one, `ask` reads a line and
// exits 5, `get URL` exits 0 when URL answers 200 (a health check),
// `echo` serves TCP and UDP line echo (echo.go). GET /ws with
// Upgrade: websocket answers 101 and then echoes every line it reads
// (an upgraded connection, without WebSocket framing).
package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(command(os.Args[1:]))
	}
	version := os.Getenv("VERSION")
	fmt.Printf("testapp %s starting\n", version)
	if os.Getenv("CRASH") == "1" {
		fmt.Println("crashing on purpose")
		os.Exit(1)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, version)
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv(r.URL.Query().Get("name")))
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		if err := os.WriteFile(r.URL.Query().Get("path"), []byte(r.URL.Query().Get("data")), 0o644); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("/fetch", func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		fmt.Printf("exiting with %d on request\n", code)
		os.Exit(code)
	})
	mux.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		var keep [][]byte
		for i := 0; i < mb; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
		}
		fmt.Fprint(w, len(keep))
	})
	upload := func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, fmt.Sprintf("read body after %d bytes: %v", n, err), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, n)
	}
	mux.HandleFunc("/upload", upload)
	mux.HandleFunc("/upload/", upload)
	mux.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) {
		if os.Getenv("UNHEALTHY") == "1" {
			http.Error(w, "unhealthy on purpose", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/ws", upgradedEcho)
	mux.HandleFunc("/wsframes", frameEcho)
	mux.HandleFunc("/burn", func(w http.ResponseWriter, r *http.Request) {
		// Spins a CPU for ms milliseconds of wall time (CPU load).
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		x := uint64(1)
		for end := time.Now().Add(time.Duration(ms) * time.Millisecond); time.Now().Before(end) && r.Context().Err() == nil; {
			for range 1000 {
				x = x*6364136223846793005 + 1442695040888963407
			}
		}
		fmt.Fprint(w, version, x%2)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			fmt.Fprint(w, version)
		case <-r.Context().Done():
		}
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		fmt.Println("SIGTERM: finishing in-flight requests")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Printf("listening on :%s\n", port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("stopped")
}

// command runs testapp as a one-off command and returns its exit code.
func command(args []string) int {
	switch args[0] {
	case "echo":
		return echo() // echo.go
	case "print":
		fmt.Println(strings.Join(args[1:], " "))
		return 0
	case "env":
		fmt.Println(os.Getenv(args[1]))
		return 0
	case "sleep":
		n, _ := strconv.Atoi(args[1])
		time.Sleep(time.Duration(n) * time.Second)
		return 0
	case "stubborn":
		// Ignores SIGTERM: only a kill stops it (stop-timeout tests).
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		n, _ := strconv.Atoi(args[1])
		time.Sleep(time.Duration(n) * time.Second)
		return 0
	case "ask":
		fmt.Print("name? ")
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		fmt.Printf("got: %s\n", strings.ToUpper(strings.TrimSpace(line)))
		return 5
	case "get":
		// A health check command for engine-run checks (the image has
		// no shell and no curl): exits 0 when URL answers 200.
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(args[1])
		if err != nil {
			fmt.Println(err)
			return 1
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Println(resp.Status)
			return 1
		}
		return 0
	case "write":
		// write PATH DATA: a file written by a command (a dump hook's).
		if err := os.WriteFile(args[1], []byte(strings.Join(args[2:], " ")), 0o644); err != nil {
			fmt.Println(err)
			return 1
		}
		return 0
	case "fill":
		// fill PATH N: a file of N bytes, data too big for a URL.
		n, _ := strconv.Atoi(args[2])
		if err := os.WriteFile(args[1], []byte(strings.Repeat("x", n)), 0o644); err != nil {
			fmt.Println(err)
			return 1
		}
		return 0
	case "copy":
		// copy SRC DST: a dump of a data file, as a dump hook makes one.
		b, err := os.ReadFile(args[1])
		if err == nil {
			err = os.WriteFile(args[2], b, 0o644)
		}
		if err != nil {
			fmt.Println(err)
			return 1
		}
		return 0
	case "exit":
		n, _ := strconv.Atoi(args[1])
		fmt.Printf("exiting with %d\n", n)
		return n
	}
	fmt.Fprintf(os.Stderr, "unknown command %q\n", args[0])
	return 2
}

// upgradedEcho switches the connection to a line echo after a 101.
func upgradedEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "want Upgrade: websocket", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	if brw.Flush() != nil {
		return
	}
	for {
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := brw.WriteString(line); err != nil || brw.Flush() != nil {
			return
		}
	}
}

// frameEcho is a WebSocket endpoint that speaks frames (RFC 6455): it
// echoes each data frame unmasked and answers a close frame with a close
// of its own, then ends.
func frameEcho(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "want a WebSocket upgrade", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
	if brw.Flush() != nil {
		return
	}
	for {
		var h [2]byte
		if _, err := io.ReadFull(brw, h[:]); err != nil {
			return
		}
		op, masked, n := h[0]&0x0f, h[1]&0x80 != 0, uint64(h[1]&0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(brw, b[:]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(brw, b[:]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 1<<20 {
			return
		}
		var mask [4]byte
		if masked {
			if _, err := io.ReadFull(brw, mask[:]); err != nil {
				return
			}
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(brw, payload); err != nil {
			return
		}
		if masked {
			for i := range payload {
				payload[i] ^= mask[i%4]
			}
		}
		out := []byte{0x80 | op}
		switch {
		case n < 126:
			out = append(out, byte(n))
		case n <= 0xffff:
			out = append(out, 126, byte(n>>8), byte(n))
		default:
			out = binary.BigEndian.AppendUint64(append(out, 127), n)
		}
		if _, err := brw.Write(append(out, payload...)); err != nil || brw.Flush() != nil {
			return
		}
		if op == 0x8 {
			return // closed: our close answered theirs
		}
	}
}
