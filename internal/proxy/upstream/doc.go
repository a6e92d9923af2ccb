// Package upstream is berth's fast HTTP/1.1 client to the proxy's
// targets, the part of it that knows bytes and connections, not pools,
// routes or event loops: a Client holds the keep-alive connections to a
// fixed list of target addresses, each target named by its index in that
// list; a Conn is one connection, used by one request at a time, from
// Conn.Use to Client.Release. The exchange's client work is here too: the
// request head written to a target (Conn.WriteRequestHead), the wait for
// the first answer byte (Conn.SendHead), the response head read into the
// client's header map (Conn.ReadResponseHead) and the body copier
// (CopyBody). What a failure means for the target (health, retries,
// error pages, statistics) is the caller's.
//
// Invariants:
//
//   - upstream imports only wire of berth's packages. It names targets by
//     index, never by the proxy's types; the proxy's event loops keep
//     their state of a connection in Conn.Loop, which upstream carries
//     and never reads, and reach a connection's socket only through
//     Conn.NetConn and Conn.Replace (under the lock that closing takes).
//   - No goroutine per connection and no context per request: the
//     request's own goroutine does its I/O. One sweep timer per Client,
//     running only while it has connections, closes the connection of a
//     request whose context is done and the connections idle longer than
//     IdleTimeout.
//   - Idle connections are kept per target in Slots affinity stacks,
//     newest last: slot 0 is the goroutines' (sockets in the netpoller),
//     the others an event loop's (sockets it took out). A goroutine takes
//     from slot 0 only; a connection idle longer than CheckAfter is
//     peeked at before reuse. A connection is put back only when nothing
//     of it is left unread.
//   - Once the Client's cut context is done, every connection (idle and
//     busy) is closed and no new one is made (ErrClosed); a put racing
//     the cut closes its connection.
//     The one delay: an event stream's body in the middle of an event
//     is closed at its next event boundary (ErrStreamEnded), or after
//     StreamGrace, so that a client only ever gets whole events.
//   - CutWaiting cuts only requests in PhaseWaiting (written, no answer
//     byte): SendHead and Answered move a request to PhaseAnswer by
//     compare-and-swap, so a cut and an answer never both win; a cut
//     request fails with ErrCut.
//   - A dial failure is the dialer's *net.OpError with Op "dial":
//     nothing was sent.
//   - CopyBody has no copy buffer of its own: it writes the bytes the
//     connection's bufio.Reader holds straight to the client, and flushes
//     the client only when the reader has nothing more buffered (before it
//     would wait on the target), so short bodies go out in one write and
//     streams stream.
//   - A body cut short is io.ErrUnexpectedEOF (EOFUnexpected), never
//     io.EOF, so that a caller cannot take a truncated body for a whole
//     one; a malformed chunk or head is wire.ErrMalformed.
//   - clientErr tells a failed write to the client from a failed read from
//     the target: only the second counts against the target.
package upstream
