package engine

// NetworkSpec describes a network to create (Compose's top-level
// networks: entry, for one app environment).
type NetworkSpec struct {
	Name string
	// Driver is the network driver; empty means the backend's own
	// ("bridge" on one host, "overlay" on Swarm).
	Driver     string
	DriverOpts map[string]string
	Internal   bool
	Attachable bool
	EnableIPv6 bool
	Labels     map[string]string
	// IPAM is the file's address management; nil gives the network a
	// subnet of the backend's pool (or the engine's choice without one).
	IPAM *IPAM
}

// IPAM is a network's address management.
type IPAM struct {
	Driver  string // empty: "default"
	Options map[string]string
	Config  []IPAMPool
}

// IPAMPool is one subnet of a network, with the range containers get
// addresses from, the gateway and addresses kept out of use.
type IPAMPool struct {
	Subnet       string
	IPRange      string
	Gateway      string
	AuxAddresses map[string]string
}

// Network is a network as the engine has it.
type Network struct {
	ID       string
	Name     string
	Driver   string
	Scope    string // "local" or "swarm"
	Internal bool
	Labels   map[string]string
	// Subnets are the network's subnets in CIDR form.
	Subnets []string
}
