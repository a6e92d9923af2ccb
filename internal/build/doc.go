// Package build turns a service's build: section into an image: the tar
// build context (honouring .dockerignore, deterministic), the image tag
// (<app>-<service>:<git commit or content hash>), the build on the
// engine with its log streamed, and the x-berth.test step in a
// container of the new image.
//
// Invariants:
//   - A build never deploys anything by itself; a failing build or test
//     leaves the live release untouched.
//   - Context, ContentHash and Tag are pure (files in, bytes out; no
//     engine). The context is deterministic: lexical order, zeroed times,
//     uid/gid 0 without names, so the same content, modes and links give
//     the same bytes and the same ContentHash on any machine.
//   - .dockerignore has Docker's semantics (moby/patternmatcher, as the
//     CLI uses it), and the Dockerfile and .dockerignore are always sent.
//     Symbolic links are sent as links, never followed; nothing outside
//     the context directory is read.
//   - Tag always returns a reference the Docker engine accepts.
package build
