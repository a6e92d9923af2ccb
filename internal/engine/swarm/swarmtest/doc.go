// Package swarmtest connects tests to the swarm lab (scripts/swarm-lab)
// without letting their traffic leave the lab.
//
// The lab's nodes live in network namespaces (berth-lab-1…3) joined by a
// bridge in a namespace of its own; their addresses (10.213.7.0/24) and
// overlays (10.214.0.0/16) exist only there. From the host's namespace a
// packet to them would follow the host's default route out of the
// machine, so tests must never dial them from there.
//
// # Mechanism: the test binary re-executes itself inside node1
//
// Main, called from a package's TestMain, re-executes the test binary as
// `nsenter --net=/run/netns/berth-lab-1 <binary> <args…>` (replacing the
// process, so `go test` sees the same pid, output and exit code) when the
// lab is up (/run/berth-lab/env exists) and the process is not already
// there (BERTH_LAB_NETNS unset). Inside, the tests dial node addresses
// and published ports as berth's proxy on a manager would, and everything
// else still works: the nodes' and the host's Docker engines are unix
// sockets, which do not depend on the network namespace, and loopback
// listeners (httptest) are node1's own loopback.
//
// Only the network namespace changes (not mounts, pids or users), so the
// binary, its working directory and its temporary files are the same.
// RequireNode1 fails a test that is about to dial lab addresses from any
// other namespace (it compares the namespace's device and inode with
// /run/netns/berth-lab-1), so a mistake skips nothing silently and leaks
// nothing.
//
// Without the lab, or without root (nsenter needs CAP_SYS_ADMIN), Main
// just runs the tests, and the tests that need the lab skip (or fail when
// BERTH_REQUIRE_SWARM=1).
package swarmtest
