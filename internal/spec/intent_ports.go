package spec

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/go-connections/nat"
)

// portCandidate is a TCP container port a service publishes (ports:) or
// exposes (expose:), one of the ports its HTTP may be on.
type portCandidate struct {
	port int
	// published are the "HOST:CONTAINER" forms of ports: that publish it.
	published []string
	// appProtocol is the ports: entry's app_protocol, when it has one.
	appProtocol string
	// inPorts: a ports: entry names it (not only expose:).
	inPorts bool
	// nonHTTP names the protocol of a well-known port that is not HTTP.
	nonHTTP string
}

// describe says where the port comes from, for a note.
func (p portCandidate) describe() string {
	if len(p.published) > 0 {
		return "published " + strings.Join(p.published, ", ")
	}
	if p.inPorts {
		return "from ports:"
	}
	return "from expose:"
}

// candidatePorts returns the TCP container ports of ports: and expose:,
// in ascending order, each once. UDP ports are never HTTP.
func candidatePorts(sc types.ServiceConfig) []portCandidate {
	byPort := map[int]*portCandidate{}
	get := func(port int) *portCandidate {
		if c, ok := byPort[port]; ok {
			return c
		}
		c := &portCandidate{port: port}
		byPort[port] = c
		return c
	}
	for _, p := range sc.Ports {
		if p.Target == 0 || p.Target > 65535 || (p.Protocol != "" && !strings.EqualFold(p.Protocol, "tcp")) {
			continue
		}
		c := get(int(p.Target))
		c.inPorts = true
		if p.Published != "" {
			pub := p.Published + ":" + strconv.Itoa(int(p.Target))
			if p.HostIP != "" {
				pub = p.HostIP + ":" + pub
			}
			if !slices.Contains(c.published, pub) {
				c.published = append(c.published, pub)
			}
		}
		if p.AppProtocol != "" && c.appProtocol == "" {
			c.appProtocol = strings.ToLower(p.AppProtocol)
		}
	}
	if len(sc.Expose) > 0 {
		// expose: takes "3000", "3000/tcp", "53/udp" and ranges "8000-8005".
		exposed, _, err := nat.ParsePortSpecs(sc.Expose)
		if err == nil {
			for p := range exposed {
				if p.Proto() == "tcp" && p.Int() > 0 {
					get(p.Int())
				}
			}
		}
	}
	out := make([]portCandidate, 0, len(byPort))
	for _, c := range byPort {
		c.nonHTTP = nonHTTPPorts[c.port]
		if c.port == 9000 && !strings.Contains(sc.Image, "fpm") {
			c.nonHTTP = "" // PHP-FPM's, but also the HTTP port of MinIO, Portainer, SonarQube...
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].port < out[j].port })
	return out
}

// nonHTTPPorts are the well-known ports of databases, caches, queues and
// other protocols that are not HTTP/1.1 served in the clear: a service
// whose only ports are these is not routed. Elasticsearch and OpenSearch
// (9200) speak HTTP but are a data store, not a site: they are not routed
// either. 9000 counts as PHP-FPM's only for an image whose name says fpm.
var nonHTTPPorts = map[int]string{
	21: "FTP", 22: "SSH", 25: "SMTP", 53: "DNS", 110: "POP3", 143: "IMAP",
	389: "LDAP", 443: "HTTPS (TLS inside the container; berth sends plain HTTP and terminates TLS itself)",
	465: "SMTP", 514: "syslog", 587: "SMTP", 636: "LDAP", 853: "DNS over TLS", 993: "IMAP", 995: "POP3",
	1433: "SQL Server", 1521: "Oracle", 1883: "MQTT", 1935: "RTMP", 2181: "ZooKeeper",
	2375: "the Docker API", 2376: "the Docker API (TLS)", 3306: "MySQL/MariaDB", 3389: "RDP",
	4222: "NATS", 4317: "OTLP gRPC", 4369: "Erlang's epmd", 5005: "a Java debugger (JDWP)",
	5044: "Beats (Logstash)", 5060: "SIP", 5432: "PostgreSQL", 5671: "AMQP over TLS", 5672: "AMQP (RabbitMQ)",
	5900: "VNC", 6379: "Redis", 6443: "the Kubernetes API (TLS)", 7687: "Neo4j Bolt",
	8443: "HTTPS (TLS inside the container; berth sends plain HTTP and terminates TLS itself)",
	8883: "MQTT", 9000: "PHP-FPM (FastCGI)", 9042: "Cassandra", 9092: "Kafka", 9093: "Kafka",
	9200: "Elasticsearch", 9229: "the Node.js inspector", 9300: "Elasticsearch",
	11211: "memcached", 24224: "Fluentd forward", 25565: "Minecraft", 25672: "RabbitMQ clustering",
	26257: "CockroachDB", 27017: "MongoDB", 27018: "MongoDB", 27019: "MongoDB", 28015: "RethinkDB",
	29092: "Kafka", 33060: "the MySQL X Protocol", 61616: "ActiveMQ",
}

// usualHTTPPorts are the ports web servers and app frameworks listen on by
// default; among several candidates, the one of these wins.
var usualHTTPPorts = []int{80, 3000, 5000, 8000, 8080}

// pickHTTPPort chooses a service's HTTP container port among its
// candidates (see README "Routing without x-berth"):
//  1. a port whose ports: entry says app_protocol: http wins; several
//     such are chosen among by the next rules;
//  2. ports with another app_protocol, and the well-known ports of
//     databases, caches and other non-HTTP protocols, are never chosen;
//  3. one port left: it; several: the one that is a usual HTTP port
//     (80, 3000, 5000, 8000, 8080), when exactly one is.
//
// It returns the port, and why it was chosen; or ok false and why not
// (empty when there are no candidates at all).
func pickHTTPPort(cands []portCandidate) (pick portCandidate, why string, ok bool) {
	if len(cands) == 0 {
		return portCandidate{}, "", false
	}
	var declared, rest []portCandidate
	var excluded []string
	for _, c := range cands {
		switch {
		case c.appProtocol == "http":
			declared = append(declared, c)
		case c.appProtocol != "":
			excluded = append(excluded, fmt.Sprintf("port %d is %s (app_protocol)", c.port, c.appProtocol))
		case c.nonHTTP != "":
			excluded = append(excluded, fmt.Sprintf("port %d is %s", c.port, c.nonHTTP))
		default:
			rest = append(rest, c)
		}
	}
	if len(declared) == 1 {
		return declared[0], "app_protocol: http", true
	}
	if len(declared) > 1 {
		rest = declared
	}
	switch {
	case len(rest) == 1:
		return rest[0], "", true
	case len(rest) == 0:
		return portCandidate{}, strings.Join(excluded, ", ") + ", not HTTP", false
	}
	var usual []portCandidate
	for _, c := range rest {
		if slices.Contains(usualHTTPPorts, c.port) {
			usual = append(usual, c)
		}
	}
	if len(usual) == 1 {
		return usual[0], fmt.Sprintf("the usual HTTP port among %s", portList(rest)), true
	}
	return portCandidate{}, fmt.Sprintf("it has the ports %s and berth cannot tell which one serves HTTP", portList(rest)), false
}

func portList(cs []portCandidate) string {
	ps := make([]string, len(cs))
	for i, c := range cs {
		ps[i] = strconv.Itoa(c.port)
	}
	if len(ps) > 8 {
		ps = append(ps[:8], "…")
	}
	return strings.Join(ps, ", ")
}
