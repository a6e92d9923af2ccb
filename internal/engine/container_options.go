package engine

// ContainerOptions are the per-container settings of Compose (cap_add,
// tmpfs, ulimits, logging, …) as a backend applies them to a container
// (or, on a cluster, to every task). The zero value changes nothing.
type ContainerOptions struct {
	CapAdd     []string
	CapDrop    []string
	Privileged bool
	// Tmpfs maps a mount point to its mount(8) options ("" for none).
	Tmpfs       map[string]string
	Ulimits     []Ulimit
	ShmSize     int64
	ReadOnly    bool
	SecurityOpt []string
	ExtraHosts  []string // "HOST:IP"
	Hostname    string
	Domainname  string
	// Log is the log driver and its options; nil: berth's default
	// (json-file, 10 MB × 3 files).
	Log         *LogConfig
	Init        *bool
	Sysctls     map[string]string
	DNS         []string
	DNSSearch   []string
	DNSOptions  []string
	Devices     []Device
	GroupAdd    []string
	PidsLimit   int64
	OomScoreAdj int64
	// MemoryReservation is a soft memory limit; MemorySwap the memory
	// plus swap limit (-1: unlimited swap).
	MemoryReservation int64
	MemorySwap        int64
	CPUShares         int64
	CPUSet            string
	// Platform is "os/arch[/variant]" the image must be for.
	Platform    string
	Runtime     string
	Annotations map[string]string
	// VolumesFrom are "CONTAINER[:ro|rw]": containers whose volumes this
	// one mounts.
	VolumesFrom []string
	// TTY gives the container a terminal; StdinOpen keeps its standard
	// input open with nothing attached (Compose's tty and stdin_open).
	TTY       bool
	StdinOpen bool
}

// Ulimit is one resource limit.
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// LogConfig is a log driver and its options.
type LogConfig struct {
	Driver  string
	Options map[string]string
}

// Device is a host device made available in the container.
type Device struct {
	Source, Target string
	Permissions    string // cgroup permissions; "rwm" when empty
}

// DefaultLog is the log configuration of containers whose Compose file
// sets no logging: rotated JSON files, 10 MB × 3.
func DefaultLog() LogConfig {
	return LogConfig{Driver: "json-file", Options: map[string]string{"max-size": "10m", "max-file": "3"}}
}
