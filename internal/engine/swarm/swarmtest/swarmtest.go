package swarmtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// EnvFile is where scripts/swarm-lab up writes the lab's nodes.
const EnvFile = "/run/berth-lab/env"

// envInLab marks a process Main re-executed inside node1's namespace.
const envInLab = "BERTH_LAB_NETNS"

// Node1NetNS is node1's network namespace, where the tests run.
const Node1NetNS = "/run/netns/berth-lab-1"

// Lab describes the lab's nodes.
type Lab struct {
	// Hosts are the nodes' engine addresses (unix sockets), node1 first;
	// node1 is always a manager.
	Hosts []string
	// NetNS are the nodes' network namespace files, in the same order.
	NetNS []string
}

// Load reads the lab's description; ok is false when the lab is not up.
func Load() (Lab, bool) {
	f, err := os.Open(EnvFile)
	if err != nil {
		return Lab{}, false
	}
	defer f.Close()
	var l Lab
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch {
		case strings.HasPrefix(k, "SWARM_LAB_NODE") && k != "SWARM_LAB_NODES":
			l.Hosts = append(l.Hosts, v)
		case strings.HasPrefix(k, "SWARM_LAB_NETNS"):
			l.NetNS = append(l.NetNS, v)
		}
	}
	return l, len(l.Hosts) > 0
}

// Main runs the package's tests inside node1's network namespace when
// the lab is up (see the package documentation); call it from TestMain.
// It returns only when the tests run in this process.
func Main(m *testing.M) {
	if _, up := Load(); up && os.Getenv(envInLab) == "" && os.Geteuid() == 0 {
		if nsenter, err := exec.LookPath("nsenter"); err == nil {
			if _, err := os.Stat(Node1NetNS); err == nil {
				self, err := os.Executable()
				if err == nil {
					args := append([]string{nsenter, "--net=" + Node1NetNS, "--", self}, os.Args[1:]...)
					env := append(os.Environ(), envInLab+"="+Node1NetNS)
					err = syscall.Exec(nsenter, args, env)
				}
				fmt.Fprintf(os.Stderr, "swarmtest: could not re-execute inside %s: %v\n", Node1NetNS, err)
				os.Exit(2)
			}
		}
	}
	os.Exit(m.Run())
}

// InNode1 reports whether this process is in node1's network namespace.
func InNode1() bool {
	var self, lab syscall.Stat_t
	if syscall.Stat("/proc/self/ns/net", &self) != nil || syscall.Stat(Node1NetNS, &lab) != nil {
		return false
	}
	return self.Dev == lab.Dev && self.Ino == lab.Ino
}

// RequireNode1 fails the test unless it runs in node1's namespace: the
// test is about to dial lab addresses, which must never be dialled from
// the host's namespace.
func RequireNode1(t testing.TB) {
	t.Helper()
	if !InNode1() {
		t.Fatalf("this test dials the lab's addresses and must run inside %s (call swarmtest.Main from TestMain and run as root)", Node1NetNS)
	}
}
