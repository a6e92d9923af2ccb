package acmetest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// startDNS serves DNS on loopback (TCP, which pebble's resolver uses,
// and UDP) until the test ends: every name has the A record 127.0.0.1
// and no other record. It returns the address.
func startDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveDNSConn(c)
			}()
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, err := dnsAnswer(buf[:n]); err == nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		pc.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// serveDNSConn answers length-prefixed queries on c until it closes.
func serveDNSConn(c net.Conn) {
	defer c.Close()
	var n [2]byte
	for {
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		resp, err := dnsAnswer(msg)
		if err != nil {
			return
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

const (
	dnsTypeA   = 1
	dnsClassIN = 1
)

// dnsAnswer builds the response to the one-question query q (RFC 1035
// section 4): 127.0.0.1 for an A question, no records for any other.
func dnsAnswer(q []byte) ([]byte, error) {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil, errShort
	}
	i := 12
	for {
		if i >= len(q) {
			return nil, errShort
		}
		l := int(q[i])
		if l == 0 {
			i++
			break
		}
		if l&0xc0 != 0 {
			return nil, errors.New("compressed name in a question")
		}
		i += 1 + l
	}
	if i+4 > len(q) {
		return nil, errShort
	}
	question := q[12 : i+4]
	qtype := binary.BigEndian.Uint16(q[i:])
	qclass := binary.BigEndian.Uint16(q[i+2:])
	reqFlags := binary.BigEndian.Uint16(q[2:4])
	// QR, opcode copied, AA, RD copied, RA; RCODE 0.
	flags := uint16(0x8000) | reqFlags&0x7800 | 0x0400 | reqFlags&0x0100 | 0x0080
	var an uint16
	if qtype == dnsTypeA && qclass == dnsClassIN {
		an = 1
	}
	resp := make([]byte, 0, 12+len(question)+16)
	resp = append(resp, q[0], q[1])
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)  // QDCOUNT
	resp = binary.BigEndian.AppendUint16(resp, an) // ANCOUNT
	resp = append(resp, 0, 0, 0, 0)                // NSCOUNT, ARCOUNT
	resp = append(resp, question...)
	if an == 1 {
		resp = append(resp, 0xc0, 12) // the name: a pointer to the question's
		resp = binary.BigEndian.AppendUint16(resp, dnsTypeA)
		resp = binary.BigEndian.AppendUint16(resp, dnsClassIN)
		resp = binary.BigEndian.AppendUint32(resp, 0) // TTL
		resp = binary.BigEndian.AppendUint16(resp, 4)
		resp = append(resp, 127, 0, 0, 1)
	}
	return resp, nil
}
