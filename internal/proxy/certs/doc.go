// Package certs is the certificate store of berth's HTTPS listener: it
// chooses a certificate by SNI among certificate files (a directory of
// NAME.crt/NAME.key pairs, a default, the routes' own) and, when ACME is
// enabled, certificates it gets from an ACME CA (Let's Encrypt) for the
// routed hosts that no file covers. It imports nothing of berth's: the
// proxy tells it the routes (SetRoutes) and it keeps its own copy.
//
// Invariants:
//
//   - The certificate table is an immutable snapshot behind an
//     atomic.Pointer, swapped in one store when files change (polled by
//     Run) or the routes' certificate files change (SetRoutes). The TLS
//     handshake (GetCertificate) takes no lock: one atomic load and a
//     map lookup or two.
//   - Writers (Run's reloads, SetRoutes) serialise on one mutex. A file
//     that fails to load keeps the previous table whole; Run tries again
//     at its next tick, as the table's stamp (the files, their sizes and
//     modification times) no longer matches.
//   - The store's copy of the routes is what the last SetRoutes said: a
//     host no route has gets no ACME certificate (even one the cache
//     holds), and a route's own certificate serves only its hosts, over
//     any other file that names them. SetRoutes equal to the last one
//     changes nothing. A route's files are checked (CheckCert: both
//     given, a pair, covering every host) before the route is set, so
//     that a deploy naming a bad certificate is refused with the reason.
//   - Precedence for a name: a route's own certificate, then a file that
//     names it (exact, then wildcard), then ACME (for a routed host the
//     default does not cover), then the default certificate.
//   - ACME: one autocert manager, its cache under a subdirectory per CA
//     so that a certificate of one CA is never served after switching.
//     Run owns the prefetch goroutines (at most four at a time) and waits
//     for them; its end cuts the requests to the CA in flight. A host
//     whose request failed waits longer each time, from a minute to an
//     hour.
package certs
