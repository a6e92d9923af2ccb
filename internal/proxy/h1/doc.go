// Package h1 is berth's lean HTTP/1.1 machinery that knows connections
// and bytes, not routes. It starts with the event loops' sockets: an Fd
// is a TCP socket taken out of Go's netpoller (Detach) so that one epoll
// instance of the proxy's event loops alone is woken for it, read and
// written without blocking (RawRead, RawWrite) by the loop, and with
// blocking calls (Read, Write, waiting in ppoll) by a goroutine the loop
// handed a target connection to; Attach gives a client's socket back to
// the netpoller. (The lean server and the loops themselves are still in
// package proxy: the next steps of the split move them here, behind an
// interface the proxy implements.)
//
// Invariants:
//
//   - h1 imports only wire of berth's packages, and knows no routes,
//     pools or targets.
//   - Every system call on an Fd holds its lock for reading; Close (from
//     any goroutine) shuts the socket down first, which wakes a waiting
//     Read, then closes the descriptor under the lock held for writing:
//     no call reaches a descriptor number reused meanwhile, and a call
//     after Close fails with net.ErrClosed.
//   - Detach closes the net.Conn it was given (the Fd holds a duplicate
//     of its descriptor); Attach closes the Fd (the net.Conn holds a
//     duplicate). Either way exactly one owner of the socket remains.
//   - RawRead and RawWrite never block and never tell the scheduler
//     (raw system calls, no P hand-off): syscall.EAGAIN says there is
//     nothing to read or no room to write now.
//   - Alive peeks without blocking: false once the peer closed or sent
//     bytes, which an idle connection must not have.
package h1
