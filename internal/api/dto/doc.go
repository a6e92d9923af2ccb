// Package dto holds the types of berth's HTTP API as they travel: the
// bodies of requests and responses, the lines of a progress stream, the
// frames of an interactive run and the header of a build's secrets.
//
// Invariants:
//   - It imports nothing of berth's but spec (an app definition is the
//     body of a deploy): the API's wire format is stated here, not
//     inherited from the store's or the deployer's JSON, and a client
//     (apiclient, the CLI) links none of the server.
//   - Every field has an explicit JSON tag; a tag changes only with the
//     API's version, since clients and the e2e tests parse them.
//   - The api package converts its store and deploy types to these at
//     the edge (api/convert.go); its test fails when a store or deploy
//     type gains a field that the matching type here lacks.
package dto
