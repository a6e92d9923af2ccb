// Package api is berth's HTTP API under /api/v1/: JSON handlers that
// return errors, one error writer that maps them to a status and a JSON
// body and logs them once, and bearer-token authentication on every
// route.
//
// Invariants:
//   - Every /api/v1/ route requires "Authorization: Bearer <token>",
//     compared in constant time; a missing or wrong token is a 401 with a
//     JSON error saying how to authenticate.
//   - A deploy or rollback runs on the server's context, not the
//     request's: a client that disconnects stops watching, not deploying.
//   - Long actions stream progress as newline-delimited JSON
//     (dto.StreamEvent), ending with one result event.
//   - What travels is package dto's, never a store or deploy type: each
//     handler converts at the edge (convert.go), so the store's JSON is
//     not the wire format and a client links none of the server.
package api
