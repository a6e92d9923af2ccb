package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// echo runs `testapp echo`: a line-echo server on $ECHO_PORT (default
// 7000), TCP and UDP, answering each line (datagram) with "$VERSION
// line". On SIGTERM it stops accepting and lets open connections end,
// for at most 10 seconds.
func echo() int {
	version := os.Getenv("VERSION")
	port := os.Getenv("ECHO_PORT")
	if port == "" {
		port = "7000"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	pc, err := net.ListenPacket("udp", ":"+port)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("testapp %s echoing on %s (tcp, udp)\n", version, port)
	go func() {
		b := make([]byte, 64<<10)
		for {
			n, addr, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(version+" "+string(b[:n])), addr)
		}
	}()
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintf(c, "%s %s\n", version, sc.Text())
				}
			}()
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
	ln.Close()
	pc.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	return 0
}
