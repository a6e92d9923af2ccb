package daemon

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// The server's listening sockets come from one of three places, looked
// at in this order:
//
//   - a predecessor handing off (BERTH_HANDOFF_FDS="http=3,api=4,…":
//     names and descriptors it passed, see handoff.go);
//   - systemd's socket activation (LISTEN_PID is this process,
//     LISTEN_FDS descriptors from 3 on, named by LISTEN_FDNAMES, which
//     the unit's FileDescriptorName= sets to http, https or api; unnamed
//     ones are matched to the flags by their address);
//   - net.Listen on the addresses of the flags.
//
// An inherited socket serves the flag of its name; when that flag names
// an address the socket is not bound to, the server refuses to start
// rather than silently serve another address.

const (
	envHandoffFDs = "BERTH_HANDOFF_FDS"
	listenFDStart = 3
)

// listenerNames are the sockets a server may be given, by flag.
var listenerNames = []string{"http", "https", "api"}

// inheritedSockets are the listening sockets this process was given, by
// name; from says by whom.
type inheritedSockets struct {
	byName map[string]net.Listener
	extra  []net.Listener // unnamed (systemd): matched by address
	from   string
}

// inherit reads the sockets passed by a predecessor or by systemd and
// clears the variables that passed them, so that a successor started
// from here does not read them again.
func inherit() (*inheritedSockets, error) {
	in := &inheritedSockets{byName: map[string]net.Listener{}}
	if v, ok := os.LookupEnv(envHandoffFDs); ok {
		os.Unsetenv(envHandoffFDs)
		in.from = "the previous berth server"
		for _, kv := range strings.Split(v, ",") {
			name, fdText, ok := strings.Cut(kv, "=")
			fd, err := strconv.Atoi(fdText)
			if !ok || err != nil || fd < listenFDStart {
				return nil, fmt.Errorf("%s=%q: want name=fd,…", envHandoffFDs, v)
			}
			ln, err := fileListener(fd, name)
			if err != nil {
				return nil, err
			}
			in.byName[name] = ln
		}
		return in, nil
	}
	pid, n := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if n == "" || pid != strconv.Itoa(os.Getpid()) {
		return in, nil
	}
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 0 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: not a count", n)
	}
	in.from = "systemd"
	for i := range count {
		name := ""
		if i < len(names) {
			name = names[i]
		}
		ln, err := fileListener(listenFDStart+i, name)
		if err != nil {
			return nil, err
		}
		switch {
		case isListenerName(name):
			in.byName[name] = ln
		default: // systemd names them after the unit when the unit does not
			in.extra = append(in.extra, ln)
		}
	}
	return in, nil
}

func isListenerName(n string) bool {
	for _, x := range listenerNames {
		if x == n {
			return true
		}
	}
	return false
}

// fileListener makes a listener of descriptor fd.
func fileListener(fd int, name string) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), name)
	if f == nil {
		return nil, fmt.Errorf("inherited socket %s (fd %d): not open", name, fd)
	}
	defer f.Close() // FileListener dups it
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("inherited socket %s (fd %d): not a listening TCP socket: %w", name, fd, err)
	}
	return ln, nil
}

// listen returns the listener for flag name (--NAME-addr addr): the
// inherited one of that name, an unnamed inherited one bound to addr, or
// a new one.
func (in *inheritedSockets) listen(name, addr string) (net.Listener, error) {
	if ln, ok := in.byName[name]; ok {
		delete(in.byName, name)
		if !sameAddr(addr, ln.Addr()) {
			ln.Close()
			return nil, fmt.Errorf("--%s-addr %s: %s passed a socket bound to %s for it: give --%s-addr %s, or change the socket", name, addr, in.from, ln.Addr(), name, ln.Addr())
		}
		return ln, nil
	}
	for i, ln := range in.extra {
		if sameAddr(addr, ln.Addr()) {
			in.extra = append(in.extra[:i], in.extra[i+1:]...)
			return ln, nil
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--%s-addr %s: %w", name, addr, err)
	}
	return ln, nil
}

// leftover closes the inherited sockets no flag took, and says which.
func (in *inheritedSockets) leftover() error {
	var names []string
	for n, ln := range in.byName {
		names = append(names, n+" "+ln.Addr().String())
		ln.Close()
	}
	for _, ln := range in.extra {
		names = append(names, ln.Addr().String())
		ln.Close()
	}
	in.byName, in.extra = map[string]net.Listener{}, nil
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("%s passed sockets that no flag asks for (%s): give their addresses to --http-addr, --https-addr or --api-addr, or remove them from the socket unit", in.from, strings.Join(names, ", "))
}

// sameAddr reports whether a listener bound to got serves the flag's
// address want: the same port, and the same IP unless want leaves the
// host out (":80") or names a wildcard.
func sameAddr(want string, got net.Addr) bool {
	ta, ok := got.(*net.TCPAddr)
	if !ok {
		return false
	}
	host, port, err := net.SplitHostPort(want)
	if err != nil {
		return false
	}
	if p, err := strconv.Atoi(port); err != nil || (p != 0 && p != ta.Port) {
		return false
	}
	if host == "" {
		return ta.IP.IsUnspecified()
	}
	ip := net.ParseIP(host)
	if ip == nil {
		ips, err := net.LookupIP(host) // "localhost"
		if err != nil {
			return false
		}
		for _, x := range ips {
			if x.Equal(ta.IP) {
				return true
			}
		}
		return false
	}
	return ip.Equal(ta.IP) || ip.IsUnspecified() && ta.IP.IsUnspecified()
}
