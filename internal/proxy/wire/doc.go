// Package wire holds the byte rules of berth's HTTP/1.1 proxying, the
// ones every path of the proxy (net/http's ReverseProxy, the fast
// upstream client, the lane, the event loops) must apply alike: which
// header fields are hop-by-hop or spoofable, the proxy's own forwarding
// fields, how a client's request head is read, and how a target's
// response head is read and its body framed.
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
//   - One request head rule, two outputs. FillRequest reads a head into
//     an *http.Request for a handler; a proxy's raw view of a head (the
//     lane's) reads it with the same line rules (ParseRequestLine,
//     OriginForm, SplitFieldLine, ValidHost, Lookup) and takes only the
//     heads these rules read as FillRequest does. FillRequest accepts
//     what net/http's server accepts (FuzzParseRequestHead) but the forms
//     request smuggling is made of, which it refuses (HeadError.Strict):
//     obs-fold, a space in a header name, Content-Length with
//     Transfer-Encoding, a repeated Content-Length, Transfer-Encoding in
//     HTTP/1.0. A refusal is a *HeadError with its status: 400, 431
//     (ErrHeadTooLarge, the caller's limit), 501 (a transfer encoding
//     but chunked), 505 (a version but 1.x).
//   - One response head rule: ParseStatusLine, ReadFields (obs-fold, a
//     name that is not a token, a value with a control character,
//     ValidFieldValue, and more than the caller's limit are
//     ErrMalformed), ResponseHead.Take for each field (hop-by-hop fields
//     stay, Content-Length must agree with itself, Transfer-Encoding can
//     only be chunked) and ResponseHead.Frame (HEAD, 204 and 304 have no
//     body; chunked wins over a length; neither means until close). The
//     fast client and the lane read heads with them; the event loops'
//     scan of a buffered answer takes its framing from the same Take and
//     Frame. Chunk sizes: ParseChunkSize, for bodies both ways.
//   - ValidFieldValue looks at eight bytes at a time and agrees with a
//     byte-by-byte test (FuzzValidFieldValue).
//   - Nothing here allocates per header field on the wire paths; Lookup
//     compares lengths before bytes and matches a canonical name with
//     one comparison.
package wire
