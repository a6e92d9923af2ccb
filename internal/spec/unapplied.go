package spec

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// appliedServiceKeys are the keys of a Compose service that berth reads
// (or that compose-go resolves before berth sees the service). Every other
// key a file sets is reported by unappliedKeys, so that nothing is dropped
// without a word.
var appliedServiceKeys = map[string]bool{
	"image": true, "build": true, "entrypoint": true, "command": true,
	"working_dir": true, "user": true, "stop_signal": true, "stop_grace_period": true,
	"environment": true, "env_file": true, "labels": true, "scale": true,
	"deploy": true, "depends_on": true, "healthcheck": true, "volumes": true,
	"configs": true, "profiles": true, "extends": true,
}

// appliedTopKeys are the top-level keys berth reads.
var appliedTopKeys = map[string]bool{
	"name": true, "services": true, "volumes": true, "configs": true, "include": true,
}

// keyHints say what to write instead of a key berth does not apply.
var keyHints = map[string]string{
	"ports":          "to reach the service, route it with x-berth.port (the container port) and x-berth.hosts",
	"expose":         "to reach the service, route it with x-berth.port and x-berth.hosts; services of one app reach each other by service name without it",
	"restart":        "berth replaces containers itself; remove it",
	"container_name": "berth names containers itself (two releases run side by side); remove it",
	"networks":       "each app environment gets one network of its own, where services reach each other by service name",
	"version":        "it is obsolete in the Compose Specification (docker compose ignores it too); remove it",
}

// unappliedKeys returns a warning for every key the files set that berth
// does not apply, naming the file, the service and the key. Only the
// services of the project (after profiles) are looked at.
func unappliedKeys(files []*sourceFile, services types.Services) []string {
	seen := map[string]bool{}
	var out []string
	add := func(file, path, key string) {
		if seen[path] {
			return
		}
		seen[path] = true
		msg := fmt.Sprintf("%s: %s: berth does not apply this key yet, so it has no effect", filepath.Base(file), path)
		if h := keyHints[key]; h != "" {
			msg += "; " + h
		}
		out = append(out, msg)
	}
	for _, f := range files {
		for key := range f.doc {
			if !appliedTopKeys[key] && !strings.HasPrefix(key, "x-") {
				add(f.name, key, key)
			}
		}
		svcs, _ := f.doc["services"].(map[string]any)
		for name, v := range svcs {
			s, ok := v.(map[string]any)
			if _, in := services[name]; !ok || !in {
				continue
			}
			for key := range s {
				if !appliedServiceKeys[key] && !strings.HasPrefix(key, "x-") {
					add(f.name, "services."+name+"."+key, key)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
