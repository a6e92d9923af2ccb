// Package wire holds the byte rules of berth's HTTP/1.1 proxying, the
// ones every path of the proxy (net/http's ReverseProxy, the fast
// upstream client, the lane, the event loops) must apply alike: which
// header fields are hop-by-hop or spoofable, and the proxy's own
// forwarding fields.
//
// Invariants:
//
//   - wire imports nothing of berth's: it knows bytes and header fields,
//     not routes, pools or connections.
//   - One rule, one place. Field classes come from one table (Lookup and
//     the ranges of Field); the forwarding fields (X-Forwarded-For, -Host,
//     -Proto, X-Request-Id, X-Forwarded-Prefix) from one function
//     (Forwarded.forwardedField) that both the wire writer
//     (Forwarded.Write) and the header-map writer (Forwarded.Set) read:
//     FuzzForwarded_WriteAndSetAgree holds them to the same result.
//   - A client's field reaches a target unless Field.Dropped says it is
//     hop-by-hop, the proxy's own or spoofable, or the request's
//     Connection header lists it (TokenListed). The proxy's own fields
//     are written after the client's, so a Connection header cannot
//     take them off.
//   - Nothing here allocates per header field on the wire paths; Lookup
//     compares lengths before bytes and matches a canonical name with
//     one comparison.
package wire
