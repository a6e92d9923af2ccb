//go:build linux

package h1

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// pair returns a connected loopback TCP pair.
func pair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-acc
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestFd_RawAndBlockingIO(t *testing.T) {
	a, b := pair(t)
	f, err := Detach(a)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Sysfd() < 0 || f.RemoteAddr().String() != b.LocalAddr().String() {
		t.Errorf("Sysfd %d, RemoteAddr %v (want %v)", f.Sysfd(), f.RemoteAddr(), b.LocalAddr())
	}
	buf := make([]byte, 16)
	if _, err := f.RawRead(buf); err != syscall.EAGAIN {
		t.Errorf("RawRead of an empty socket: %v, want EAGAIN", err)
	}
	if !f.Alive() {
		t.Error("an idle open socket is not Alive")
	}
	if n, err := f.RawWrite([]byte("ping")); n != 4 || err != nil {
		t.Fatalf("RawWrite = %d, %v", n, err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "ping" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	go b.Write([]byte("pong"))
	_ = f.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := f.Read(buf); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	_ = f.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := f.Read(buf); !errors.Is(err, syscall.ETIMEDOUT) && !isDeadline(err) {
		t.Errorf("Read past the deadline: %v", err)
	}
	b.Close()
	time.Sleep(20 * time.Millisecond)
	if f.Alive() {
		t.Error("a socket whose peer closed is Alive")
	}
}

func isDeadline(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestFd_CloseWakesARead(t *testing.T) {
	a, _ := pair(t)
	f, err := Detach(a)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("Read after Close returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the Read")
	}
	if _, err := f.RawRead(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("RawRead after Close: %v, want net.ErrClosed", err)
	}
	if err := f.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want net.ErrClosed", err)
	}
}

func TestFd_AttachGivesTheSocketBack(t *testing.T) {
	a, b := pair(t)
	f, err := Detach(a)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := f.Attach()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := f.RawRead(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the Fd after Attach: %v, want net.ErrClosed", err)
	}
	if _, err := f.Attach(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Attach: %v, want net.ErrClosed", err)
	}
	go b.Write([]byte("x"))
	buf := make([]byte, 1)
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(nc, buf); err != nil || buf[0] != 'x' {
		t.Errorf("the attached conn read %q, %v", buf, err)
	}
}
