// Package build turns a service's build: section into an image: the tar
// build context (honouring .dockerignore, deterministic), the image tag
// (<app>-<service>:<git commit or content hash>), the build on the
// engine with its log streamed, and the x-berth.test step in a
// container of the new image.
//
// Invariants: a build never deploys anything by itself; a failing build
// or test leaves the live release untouched.
package build
