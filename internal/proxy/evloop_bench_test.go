//go:build linux

package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkEventLoop_Answers sends keep-alive GETs through the lane
// behind event loops ("loop") and without them ("lane") to an app that
// writes its answer in one write, or its head and then its body in a
// second write a few microseconds later, framed with Content-Length or
// chunked. looped/req is the share of the requests a loop answered
// itself.
func BenchmarkEventLoop_Answers(b *testing.B) {
	body := strings.Repeat("x", 512)
	chunk := strconv.FormatInt(int64(len(body)), 16) + "\r\n" + body + "\r\n0\r\n\r\n"
	for _, tc := range []struct {
		name       string
		head, rest string
		split      bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 512\r\n\r\n", body, false},
		{"length-split", "HTTP/1.1 200 OK\r\nContent-Length: 512\r\n\r\n", body, true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunk, false},
		{"chunked-split", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunk, true},
	} {
		addr := benchRawApp(b, tc.head, tc.rest, tc.split)
		px := New(Options{Logger: discardLog})
		p := NewPool(keyA, "r1", []Target{{ID: "b", Name: "b", Addr: addr}}, fastHealth(), discardLog)
		b.Cleanup(p.Close)
		waitHealthyB(b, p)
		if _, err := px.SetRoute(keyA, []string{"shop.test"}, p); err != nil {
			b.Fatal(err)
		}
		for _, kind := range []string{"lane", "loop"} {
			b.Run(tc.name+"/"+kind, func(b *testing.B) {
				o := testServerOptions()
				o.Lane = px
				if kind == "loop" {
					o.EventLoops = 2
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				seen := &serverCounts{}
				o.Observer = seen
				s := NewServer(px, o)
				go s.Serve(ln)
				defer s.Close()
				benchClients(b, ln.Addr().String())
				b.StopTimer()
				// The share of the answers the loops wrote themselves.
				b.ReportMetric(float64(seen.looped.Load())/float64(max(seen.laned.Load(), 1)), "looped/req")
			})
		}
	}
}

// benchClients sends GETs on 8 keep-alive connections per CPU, one at a
// time on each, and reads the answers (Content-Length or chunked).
func benchClients(b *testing.B, addr string) {
	req := []byte("GET /bench HTTP/1.1\r\nHost: shop.test\r\n\r\n")
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReaderSize(c, 4<<10)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			r, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := io.Copy(io.Discard, r.Body); err != nil || r.StatusCode != 200 {
				b.Errorf("status %d, %v", r.StatusCode, err)
				return
			}
		}
	})
}

// benchRawApp is an app answering every request (but /up) with head and
// rest, in one write or (split) in two.
func benchRawApp(b *testing.B, head, rest string, split bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	whole := []byte(head + rest)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var path string
					for first := true; ; first = false {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if first {
							if f := bytes.Fields(line); len(f) > 1 {
								path = string(f[1])
							}
						}
						if len(line) <= 2 {
							break
						}
					}
					switch {
					case path == "/up":
						_, err = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
					case split:
						if _, err = io.WriteString(c, head); err == nil {
							_, err = io.WriteString(c, rest)
						}
					default:
						_, err = c.Write(whole)
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
