package spec

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// keyStatus is what berth does with a Compose key.
type keyStatus uint8

const (
	// keyApplied keys are applied with the meaning docker compose gives
	// them on one host (a server on Swarm may still refuse one that
	// Swarm cannot apply: see deploy's cluster refusals).
	keyApplied keyStatus = iota + 1
	// keyRefused keys stop the load: nothing is built or deployed.
	keyRefused
	// keyIgnored keys have no effect under berth, and a warning says so
	// and why.
	keyIgnored
	// keyDeprecated keys are applied, with a warning of what to write
	// instead.
	keyDeprecated
)

// keyRule is the decision on one key: its status and, for a refused or
// ignored key, why and what to write instead.
type keyRule struct {
	status keyStatus
	note   string
}

func deprecated(note string) keyRule { return keyRule{status: keyDeprecated, note: note} }
func applied() keyRule               { return keyRule{status: keyApplied} }
func refused(note string) keyRule    { return keyRule{status: keyRefused, note: note} }
func ignored(note string) keyRule    { return keyRule{status: keyIgnored, note: note} }
func notYet(what string) keyRule     { return refused("berth cannot apply " + what + " yet; remove it") }
func windowsOnly() keyRule           { return refused("it applies to Windows containers only; remove it") }

// loaderKeys are top-level keys compose-go consumes while it loads
// (they have no field in its types).
var loaderKeys = map[string]keyRule{
	"version": ignored("it is obsolete in the Compose Specification (docker compose ignores it too); remove it"),
	"include": applied(),
}

// composeKeys is every key of the Compose Specification's definitions, by
// its path in compose-go's types ("*" stands for a name the user picks: a
// service, a network, a ulimit), with what berth does with it. A key
// whose parent is applied and that is missing here fails
// TestComposeKeys_EveryKeyIsDecided, so a compose-go upgrade that adds a
// key cannot be dropped silently.
var composeKeys = func() map[string]keyRule {
	m := make(map[string]keyRule, len(topKeys)+len(serviceKeys))
	for k, r := range topKeys {
		m[k] = r
	}
	for k, r := range serviceKeys {
		m["services.*."+k] = r
	}
	for k, r := range legacyKeys {
		m[k] = r
	}
	return m
}()

// legacyKeys are forms compose-go still reads but its types no longer
// hold.
var legacyKeys = map[string]keyRule{
	"volumes.*.external.name":  deprecated("external.name is deprecated; write name: NAME and external: true"),
	"networks.*.external.name": deprecated("external.name is deprecated; write name: NAME and external: true"),
	"secrets.*.external.name":  deprecated("external.name is deprecated; write name: NAME and external: true"),
	"configs.*.external.name":  deprecated("external.name is deprecated; write name: NAME and external: true"),
}

// topKeys are the keys outside services (the top level, and the
// definitions of volumes, networks, secrets and configs).
var topKeys = map[string]keyRule{
	"name":       applied(),
	"services":   applied(),
	"services.*": applied(),
	"volumes":    applied(),
	"volumes.*":  applied(),
	"networks":   applied(),
	"networks.*": applied(),
	"secrets":    applied(),
	"secrets.*":  applied(),
	"configs":    applied(),
	"configs.*":  applied(),
	"models":     refused("berth does not run AI models (Docker Model Runner); remove models:"),
	"jobs":       refused("berth does not run Compose jobs; run one-off tasks with `berth run APP SERVICE -- CMD`, and a task before each release with x-berth.release_command"),

	// Top-level volumes.
	"volumes.*.name":        applied(),
	"volumes.*.driver":      applied(),
	"volumes.*.driver_opts": applied(),
	"volumes.*.external":    applied(),
	"volumes.*.labels":      applied(),

	// Top-level networks.
	"networks.*.name":                      applied(),
	"networks.*.driver":                    applied(),
	"networks.*.driver_opts":               applied(),
	"networks.*.external":                  applied(),
	"networks.*.internal":                  applied(),
	"networks.*.attachable":                applied(),
	"networks.*.labels":                    applied(),
	"networks.*.enable_ipv4":               refused("Engine 20.10 cannot create a network without IPv4; remove it"),
	"networks.*.enable_ipv6":               applied(),
	"networks.*.ipam":                      applied(),
	"networks.*.ipam.driver":               applied(),
	"networks.*.ipam.options":              applied(),
	"networks.*.ipam.config":               applied(),
	"networks.*.ipam.config.subnet":        applied(),
	"networks.*.ipam.config.ip_range":      applied(),
	"networks.*.ipam.config.gateway":       applied(),
	"networks.*.ipam.config.aux_addresses": applied(),

	// Top-level secrets and configs.
	"secrets.*.name":            applied(),
	"secrets.*.file":            applied(),
	"secrets.*.environment":     applied(),
	"secrets.*.content":         applied(),
	"secrets.*.external":        applied(),
	"secrets.*.labels":          ignored("berth keeps secrets in its own store, which has no labels; remove them"),
	"secrets.*.driver":          refused("berth stores secrets itself; secret drivers are not supported: give file:, environment: or external: true (a secret set with `berth secrets set`)"),
	"secrets.*.driver_opts":     refused("berth stores secrets itself; secret drivers are not supported: give file:, environment: or external: true (a secret set with `berth secrets set`)"),
	"secrets.*.template_driver": refused("berth does not render secret templates; give the rendered file"),
	"configs.*.name":            applied(),
	"configs.*.file":            applied(),
	"configs.*.environment":     applied(),
	"configs.*.content":         applied(),
	"configs.*.external":        applied(),
	"configs.*.labels":          applied(),
	"configs.*.driver":          refused("config drivers are not supported: give file:, content: or environment:"),
	"configs.*.driver_opts":     refused("config drivers are not supported: give file:, content: or environment:"),
	"configs.*.template_driver": refused("berth does not render config templates; give the rendered file"),
}

// serviceKeys are the keys of one service, by their path below
// services.*; they join composeKeys in init.
var serviceKeys = map[string]keyRule{
	"name":              applied(),
	"image":             applied(),
	"command":           applied(),
	"entrypoint":        applied(),
	"environment":       applied(),
	"env_file":          applied(),
	"env_file.path":     applied(),
	"env_file.required": applied(),
	"env_file.format":   applied(),
	"labels":            applied(),
	"label_file":        applied(),
	"working_dir":       applied(),
	"user":              applied(),
	"profiles":          applied(),
	"scale":             applied(),
	"stop_signal":       applied(),
	"stop_grace_period": applied(),
	"extends":           applied(),
	"extends.file":      applied(),
	"extends.service":   applied(),

	"depends_on":             applied(),
	"depends_on.*":           applied(),
	"depends_on.*.condition": applied(),
	"depends_on.*.required":  applied(),
	"depends_on.*.restart":   ignored("berth does not restart a service when one it depends on is replaced; the order of the first start is kept"),

	"healthcheck":                applied(),
	"healthcheck.test":           applied(),
	"healthcheck.interval":       applied(),
	"healthcheck.timeout":        applied(),
	"healthcheck.retries":        applied(),
	"healthcheck.start_period":   applied(),
	"healthcheck.disable":        applied(),
	"healthcheck.start_interval": ignored("Engine 20.10 does not know start_interval (it needs API 1.44); the check runs at its interval from the start"),

	"build":                     applied(),
	"build.context":             applied(),
	"build.dockerfile":          applied(),
	"build.args":                applied(),
	"build.target":              applied(),
	"build.dockerfile_inline":   applied(),
	"build.additional_contexts": refused("berth sends one build context: copy what the build needs into the context directory, or build FROM an image"),
	"build.cache_from":          refused("berth keeps a build cache per app on the build host and imports none; remove it"),
	"build.cache_to":            refused("berth keeps a build cache per app on the build host and exports none; remove it"),
	"build.entitlements":        refused("berth does not grant build entitlements; remove it"),
	"build.extra_hosts":         applied(),
	"build.isolation":           windowsOnly(),
	"build.labels":              applied(),
	"build.network":             applied(), // default, host or none: a named network is refused in build.go
	"build.no_cache":            applied(),
	"build.no_cache_filter":     refused("berth cannot rebuild only some stages; use build.no_cache: true to rebuild every stage"),
	"build.platforms":           refused("berth builds for the server's own platform; remove it, or build multi-platform images in CI and set image:"),
	"build.privileged":          refused("berth does not run privileged builds; remove it"),
	"build.provenance":          ignored("berth's builder writes to the engine's image store, which keeps no attestations"),
	"build.sbom":                ignored("berth's builder writes to the engine's image store, which keeps no attestations"),
	"build.pull":                applied(),
	"build.secrets":             applied(),
	"build.secrets.source":      applied(),
	"build.secrets.target":      applied(), // the id RUN --mount=type=secret,id= names
	"build.secrets.uid":         ignored(buildSecretOwner),
	"build.secrets.gid":         ignored(buildSecretOwner),
	"build.secrets.mode":        ignored(buildSecretOwner),
	"build.shm_size":            refused("berth's builds cannot size a build step's /dev/shm; remove it"),
	"build.ssh":                 refused("berth builds on the server, which has no SSH agent of yours; fetch private sources before the build, or use build secrets"),
	"build.tags":                refused("berth tags each build itself (image:, or APP-SERVICE:COMMIT); remove it, and push other tags from CI"),
	"build.ulimits":             refused("berth's builds cannot set a build step's ulimits; raise the limit inside the RUN step (ulimit -n …) or remove it"),

	"deploy":                                          applied(),
	"deploy.replicas":                                 applied(),
	"deploy.mode":                                     applied(),
	"deploy.endpoint_mode":                            ignored("berth sends traffic to each container (or Swarm task) itself, so the endpoint mode has no effect"),
	"deploy.labels":                                   applied(), // Traefik's are imported as routes (intent_traefik.go); any other is refused by checkDeployLabels
	"deploy.placement":                                applied(),
	"deploy.placement.constraints":                    applied(),
	"deploy.placement.preferences":                    applied(),
	"deploy.placement.preferences.spread":             applied(),
	"deploy.placement.max_replicas_per_node":          applied(),
	"deploy.update_config":                            applied(),
	"deploy.update_config.parallelism":                applied(),
	"deploy.update_config.delay":                      applied(),
	"deploy.update_config.failure_action":             applied(),
	"deploy.update_config.monitor":                    applied(),
	"deploy.update_config.max_failure_ratio":          applied(),
	"deploy.update_config.order":                      applied(),
	"deploy.rollback_config":                          applied(),
	"deploy.rollback_config.parallelism":              applied(),
	"deploy.rollback_config.delay":                    applied(),
	"deploy.rollback_config.failure_action":           applied(),
	"deploy.rollback_config.monitor":                  applied(),
	"deploy.rollback_config.max_failure_ratio":        applied(),
	"deploy.rollback_config.order":                    applied(),
	"deploy.restart_policy":                           applied(),
	"deploy.restart_policy.condition":                 applied(),
	"deploy.restart_policy.delay":                     applied(),
	"deploy.restart_policy.max_attempts":              applied(),
	"deploy.restart_policy.window":                    applied(),
	"deploy.resources":                                applied(),
	"deploy.resources.limits":                         applied(),
	"deploy.resources.limits.cpus":                    applied(),
	"deploy.resources.limits.memory":                  applied(),
	"deploy.resources.limits.pids":                    applied(),
	"deploy.resources.limits.devices":                 refused("devices are reserved, not limited: write them under deploy.resources.reservations.devices"),
	"deploy.resources.limits.generic_resources":       refused("generic resources are reservations: write them under deploy.resources.reservations"),
	"deploy.resources.reservations":                   applied(),
	"deploy.resources.reservations.cpus":              applied(),
	"deploy.resources.reservations.memory":            applied(),
	"deploy.resources.reservations.pids":              refused("a pids count cannot be reserved; limit it with deploy.resources.limits.pids"),
	"deploy.resources.reservations.devices":           refused("berth cannot reserve devices (GPUs) yet; remove it"),
	"deploy.resources.reservations.generic_resources": refused("berth cannot reserve generic resources yet; remove it"),

	"volumes":                       applied(),
	"volumes.type":                  applied(),
	"volumes.source":                applied(),
	"volumes.target":                applied(),
	"volumes.read_only":             applied(),
	"volumes.consistency":           ignored("consistency tunes bind mounts of Docker Desktop for Mac; on Linux it has no effect"),
	"volumes.bind":                  applied(),
	"volumes.bind.propagation":      applied(),
	"volumes.bind.create_host_path": applied(), // binds.go
	"volumes.bind.selinux":          applied(), // container.go; refused on Swarm
	"volumes.bind.recursive":        notYet("volumes.bind.recursive"),
	"volumes.volume":                applied(),
	"volumes.volume.nocopy":         applied(),
	"volumes.volume.subpath":        applied(),
	"volumes.volume.labels":         notYet("volumes.volume.labels"),
	"volumes.tmpfs":                 applied(),
	"volumes.tmpfs.size":            applied(),
	"volumes.tmpfs.mode":            applied(),
	"volumes.image":                 refused("Engine 20.10 cannot mount an image as a volume (it needs API 1.48); copy the files into a volume or the image"),
	"volumes.image.subpath":         refused("Engine 20.10 cannot mount an image as a volume (it needs API 1.48); copy the files into a volume or the image"),
	"volumes_from":                  applied(),
	"volume_driver":                 refused("set the driver on the top-level volume (volumes: NAME: driver: …) instead"),

	"configs":        applied(),
	"configs.source": applied(),
	"configs.target": applied(),
	"configs.uid":    applied(),
	"configs.gid":    applied(),
	"configs.mode":   applied(),
	"secrets":        applied(),
	"secrets.source": applied(),
	"secrets.target": applied(),
	"secrets.uid":    applied(),
	"secrets.gid":    applied(),
	"secrets.mode":   applied(),

	"ports":              applied(), // ports.go: berth's listener, or x-berth.publish: direct
	"ports.target":       applied(),
	"ports.published":    applied(),
	"ports.host_ip":      applied(),
	"ports.protocol":     applied(),
	"ports.mode":         applied(),
	"ports.app_protocol": applied(),
	"ports.name":         applied(),
	"expose":             applied(), // routing intent: its HTTP port is routed (intent.go); services reach each other on every port

	"networks":                          applied(), // networks.go
	"networks.*":                        applied(),
	"networks.*.aliases":                applied(),
	"networks.*.ipv4_address":           applied(),
	"networks.*.ipv6_address":           applied(),
	"networks.*.link_local_ips":         applied(),
	"networks.*.priority":               applied(),
	"networks.*.gw_priority":            refused("Engine 20.10 cannot choose the gateway network (it needs API 1.48); remove it"),
	"networks.*.mac_address":            refused("Engine 20.10 cannot set a MAC address per network (it needs API 1.44); remove it"),
	"networks.*.driver_opts":            applied(),
	"networks.*.interface_name":         refused("Engine 20.10 cannot name the interface (it needs API 1.49); remove it"),
	"networks.*.use_service_name_alias": applied(), // berth adds the alias, as Compose does
	"network_mode":                      applied(), // networks_validate.go refuses what cannot run
	"net":                               refused("net is the legacy form of network_mode; write network_mode"),
	"links":                             ignored("links are legacy: services of one app reach each other by service name; a link's alias is not created"),
	"external_links":                    refused("berth does not link to containers outside the app; join them on an external network (networks: NAME: external: true)"),
	"mac_address":                       refused("two releases of a service run side by side during a deploy and cannot share a MAC address; remove it"),
	"container_name":                    applied(), // a network alias: convert.go, deploy/networks.go
	"hostname":                          applied(),
	"domainname":                        applied(),
	"dns":                               applied(),
	"dns_opt":                           applied(),
	"dns_search":                        applied(),
	"extra_hosts":                       applied(),

	"restart":             applied(),
	"cap_add":             applied(),
	"cap_drop":            applied(),
	"privileged":          applied(),
	"security_opt":        applied(),
	"read_only":           applied(),
	"tmpfs":               applied(),
	"shm_size":            applied(),
	"ulimits":             applied(),
	"ulimits.*":           applied(),
	"ulimits.*.soft":      applied(),
	"ulimits.*.hard":      applied(),
	"ulimits.*.single":    applied(),
	"sysctls":             applied(),
	"init":                applied(),
	"devices":             applied(),
	"devices.source":      applied(),
	"devices.target":      applied(),
	"devices.permissions": applied(),
	"group_add":           applied(),
	"pids_limit":          applied(),
	"oom_score_adj":       applied(),
	"oom_kill_disable":    refused("berth does not turn off the OOM killer (a container could take the host's memory); set a memory limit instead"),
	"logging":             applied(),
	"logging.driver":      applied(),
	"logging.options":     applied(),
	"log_driver":          refused("log_driver is the legacy form of logging.driver; write logging: { driver: … }"),
	"log_opt":             refused("log_opt is the legacy form of logging.options; write logging: { options: … }"),
	"platform":            applied(),
	"runtime":             applied(),
	"annotations":         applied(),
	"pull_policy":         applied(),
	"pull_refresh_after":  refused("berth pulls an image when a deploy names it; remove it"),
	"mem_limit":           applied(),
	"mem_reservation":     applied(),
	"memswap_limit":       applied(),
	"mem_swappiness":      notYet("mem_swappiness"),
	"cpus":                applied(),
	"cpu_shares":          applied(),
	"cpuset":              applied(),
	"cpu_period":          notYet("cpu_period (write deploy.resources.limits.cpus)"),
	"cpu_quota":           notYet("cpu_quota (write deploy.resources.limits.cpus)"),
	"cpu_rt_period":       notYet("cpu_rt_period"),
	"cpu_rt_runtime":      notYet("cpu_rt_runtime"),
	"cpu_count":           windowsOnly(),
	"cpu_percent":         windowsOnly(),
	"credential_spec":     windowsOnly(),
	"isolation":           windowsOnly(),
	"blkio_config":        notYet("blkio_config"),
	"cgroup":              notYet("cgroup"),
	"cgroup_parent":       notYet("cgroup_parent"),
	"device_cgroup_rules": notYet("device_cgroup_rules"),
	"gpus":                refused("berth cannot give containers GPUs yet; remove it"),
	"ipc":                 notYet("ipc"),
	"pid":                 notYet("pid"),
	"uts":                 notYet("uts"),
	"userns_mode":         notYet("userns_mode"),
	"storage_opt":         notYet("storage_opt"),
	"umask":               notYet("umask"),
	"tty":                 applied(),
	"stdin_open":          applied(),
	"attach":              ignored("berth does not attach to the containers' output; read it with `berth logs APP SERVICE`"),
	"use_api_socket":      refused("it mounts the engine's socket into the container, which makes the app root on the host; remove it"),
	"dockerfile":          refused("write build: { dockerfile: … }"),
	"develop":             ignored("develop: configures `docker compose watch` on a developer's machine; berth deploys releases"),
	"models":              refused("berth does not run AI models (Docker Model Runner); remove models:"),
	"provider":            refused("berth does not run provider services; remove provider:"),
	"pre_start":           refused("berth does not run lifecycle hooks; run a task before traffic moves with x-berth.release_command"),
	"post_start":          refused("berth does not run lifecycle hooks; run a task before traffic moves with x-berth.release_command"),
	"pre_stop":            refused("berth does not run lifecycle hooks; remove it"),
}

// buildSecretOwner is why a build secret's uid, gid and mode have no
// effect (docker compose does not pass them to the build either).
const buildSecretOwner = "a build secret's owner and mode are set where the Dockerfile mounts it: RUN --mount=type=secret,id=ID,uid=…,gid=…,mode=…"

// checkKeys walks the keys the files set (as the user wrote them, before
// compose-go normalises them) against composeKeys: a refused key is
// reported to c, naming the file, the service and the key; an ignored one
// returns a warning in the same shape. Only the services of the project
// (after profiles) are looked at; x- extensions are berth's or the
// user's own.
func checkKeys(c *collector, files []*sourceFile, services types.Services) []string {
	var warnings []string
	seen := map[string]bool{}
	for _, f := range files {
		k := keyWalk{file: f.name, c: c, seen: seen, warn: func(w string) { warnings = append(warnings, w) }}
		for key, v := range f.doc {
			switch {
			case strings.HasPrefix(key, "x-"):
			case key == "services":
				svcs, _ := v.(map[string]any)
				for name, sv := range svcs {
					if _, in := services[name]; !in {
						continue
					}
					k.service = name
					k.children("services.*", "", sv)
				}
				k.service = ""
			default:
				if r, ok := loaderKeys[key]; ok {
					k.decide(r, key)
					continue
				}
				k.key(key, key, v)
			}
		}
	}
	sort.Strings(warnings)
	return warnings
}

// keyWalk is one file's walk through its keys.
type keyWalk struct {
	file    string
	service string
	c       *collector
	seen    map[string]bool
	warn    func(string)
}

// key decides the key at pattern (its path in composeKeys), shown to the
// user as field, and walks into v when it is applied.
func (k *keyWalk) key(pattern, field string, v any) {
	r, ok := composeKeys[pattern]
	if !ok {
		k.decide(ignored("berth does not know this key, so it has no effect; check its spelling"), field)
		return
	}
	switch r.status {
	case keyRefused, keyIgnored:
		k.decide(r, field)
		return
	case keyDeprecated:
		k.decide(r, field)
	}
	k.children(pattern, field, v)
}

// children walks the keys of v, a mapping or a list of mappings, below
// pattern.
func (k *keyWalk) children(pattern, field string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for name, cv := range v {
			if strings.HasPrefix(name, "x-") {
				continue
			}
			child := pattern + "." + name
			if _, ok := composeKeys[child]; !ok {
				if _, wild := composeKeys[pattern+".*"]; wild {
					child = pattern + ".*"
				} else if !k.hasChildren(pattern) {
					continue // a mapping of the user's own keys (labels, args…)
				}
			}
			f := name
			if field != "" {
				f = field + "." + name
			}
			k.key(child, f, cv)
		}
	case []any:
		for i, e := range v {
			if m, ok := e.(map[string]any); ok {
				k.children(pattern, field+"["+strconv.Itoa(i)+"]", m)
			}
		}
	}
}

// hasChildren reports whether composeKeys decides keys below pattern.
func (k *keyWalk) hasChildren(pattern string) bool {
	return keyParents[pattern]
}

// keyParents holds every path of composeKeys that has keys below it.
var keyParents = func() map[string]bool {
	m := map[string]bool{}
	for p := range composeKeys {
		for i := strings.LastIndexByte(p, '.'); i > 0; i = strings.LastIndexByte(p[:i], '.') {
			m[p[:i]] = true
		}
	}
	return m
}()

// decide reports a refused or ignored key once per file, service and
// field.
func (k *keyWalk) decide(r keyRule, field string) {
	id := k.file + "\x00" + k.service + "\x00" + field
	if k.seen[id] || r.status == keyApplied {
		return
	}
	k.seen[id] = true
	e := &Error{File: k.file, Service: k.service, Field: field, Msg: r.note}
	switch r.status {
	case keyRefused:
		k.c.addErr(e)
	case keyIgnored:
		e.Msg = "has no effect: " + r.note
		k.warn(e.Error())
	case keyDeprecated:
		k.warn(e.Error())
	}
}

// String names a status, for tests and messages.
func (s keyStatus) String() string {
	switch s {
	case keyApplied:
		return "applied"
	case keyRefused:
		return "refused"
	case keyIgnored:
		return "ignored"
	case keyDeprecated:
		return "deprecated"
	}
	return fmt.Sprintf("keyStatus(%d)", s)
}
