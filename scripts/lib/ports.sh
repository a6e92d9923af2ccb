# Loopback ports for the benchmarks (sourced by scripts/bench-*).

# free_port prints a port nothing listens on. The ports come from below the
# kernel's ephemeral range (ip_local_port_range), which the benchmark's own
# connections use as source ports: a port there may be taken by a
# connection, not a listener.
free_port() {
	local p low
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	while :; do
		p=$((10000 + RANDOM % (low - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# wait_up PORT NAME waits until PORT accepts connections, at most 10s; then
# it fails, with NAME's log ($TMP/NAME.log) when there is one.
wait_up() {
	for _ in $(seq 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "$2 did not start on port $1; its log:" >&2
	cat "$TMP/$2.log" >&2 2>/dev/null || true
	exit 1
}
