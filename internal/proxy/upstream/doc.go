// Package upstream is berth's fast HTTP/1.1 client to the proxy's
// targets, the part of it that knows bytes and connections, not pools or
// routes. It starts with the exchange's body copier: CopyBody moves a
// response body framed as a wire.ResponseHead says from the target's
// connection to the client.
//
// Invariants:
//
//   - upstream imports only wire of berth's packages.
//   - CopyBody has no copy buffer of its own: it writes the bytes the
//     connection's bufio.Reader holds straight to the client, and flushes
//     the client only when the reader has nothing more buffered (before it
//     would wait on the target), so short bodies go out in one write and
//     streams stream.
//   - A body cut short is io.ErrUnexpectedEOF (EOFUnexpected), never
//     io.EOF, so that a caller cannot take a truncated body for a whole
//     one; a malformed chunk is wire.ErrMalformed.
//   - clientErr tells a failed write to the client from a failed read from
//     the target: only the second counts against the target.
package upstream
