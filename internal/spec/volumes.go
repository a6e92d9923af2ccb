package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"regexp"
	"sort"

	"github.com/compose-spec/compose-go/v2/types"
)

// Volume is one top-level Compose volume, as the file declares it.
//
// Its JSON form is the bare key ("uploads") when the file says nothing
// but the key, which is how releases stored volumes before the other
// fields existed; both forms read back.
type Volume struct {
	// Key is the volume's key under the top-level volumes:, the name the
	// services' mounts use.
	Key string `json:"key"`
	// Name is the engine's name of the volume when the file fixes it:
	// Compose's name:, or the key of an external volume without one. It
	// is not scoped to the app and environment. Empty: berth names the
	// volume <app>-<env>-<key>.
	Name string `json:"name,omitempty"`
	// External volumes exist outside berth: they are used by Name, never
	// created, changed or removed; a deploy is refused when one is
	// missing.
	External bool `json:"external,omitempty"`
	// Driver, DriverOpts and Labels are passed to the engine when berth
	// creates the volume. An empty Driver is the engine's "local".
	Driver     string            `json:"driver,omitempty"`
	DriverOpts map[string]string `json:"driver_opts,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// DefaultVolumeDriver is the driver of a volume whose driver: is unset.
const DefaultVolumeDriver = "local"

// VolumeDriver is v's driver, "local" when the file sets none.
func (v Volume) VolumeDriver() string {
	if v.Driver == "" {
		return DefaultVolumeDriver
	}
	return v.Driver
}

// Bare reports whether the file says nothing of the volume but its key.
func (v Volume) Bare() bool {
	return v.Name == "" && !v.External && v.Driver == "" && len(v.DriverOpts) == 0 && len(v.Labels) == 0
}

// MarshalJSON writes a bare volume as its key, any other as an object.
func (v Volume) MarshalJSON() ([]byte, error) {
	if v.Bare() {
		return json.Marshal(v.Key)
	}
	type plain Volume
	return json.Marshal(plain(v))
}

// UnmarshalJSON reads the key alone ("uploads") or the object form.
func (v *Volume) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		*v = Volume{}
		return json.Unmarshal(b, &v.Key)
	}
	type plain Volume
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*v = Volume(p)
	return nil
}

// Volume returns the top-level volume with the given key.
func (a *App) Volume(key string) (Volume, bool) {
	for _, v := range a.Volumes {
		if v.Key == key {
			return v, true
		}
	}
	return Volume{}, false
}

// convertVolumes reads the project's top-level volumes, sorted by key.
// compose-go names every volume (project_key when the file does not);
// only a name the file gives, or an external volume's, is kept.
func convertVolumes(files []*sourceFile, project string, vols types.Volumes) []Volume {
	out := make([]Volume, 0, len(vols))
	for key, vc := range vols {
		v := Volume{Key: key, External: bool(vc.External), Driver: vc.Driver}
		named := vc.Name != project+"_"+key
		for _, f := range files {
			named = named || has(f.doc, []string{"volumes", key, "name"})
		}
		if v.External || named {
			v.Name = vc.Name
		}
		if len(vc.DriverOpts) > 0 {
			v.DriverOpts = maps.Clone(map[string]string(vc.DriverOpts))
		}
		if len(vc.Labels) > 0 {
			v.Labels = maps.Clone(map[string]string(vc.Labels))
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// localVolumeName is what Docker's local driver accepts as a name.
var localVolumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// validateVolumes checks the top-level volumes: keys, names, that an
// external volume sets nothing berth would have to ignore, and that two
// keys naming one volume agree on what it is.
func validateVolumes(c *collector, a *App) {
	byName := map[string]Volume{}
	for _, v := range a.Volumes {
		field := "volumes." + v.Key
		if v.Key == "" {
			c.add("", "volumes", "a volume name must not be empty")
			continue
		}
		if v.External {
			for _, f := range []struct {
				key string
				set bool
			}{{"driver", v.Driver != ""}, {"driver_opts", len(v.DriverOpts) > 0}, {"labels", len(v.Labels) > 0}} {
				if f.set {
					c.add("", field+"."+f.key, fmt.Sprintf("an external volume is used as it is: berth never creates it, so its %s would be ignored; remove %s, or remove external: true to have berth create the volume", f.key, f.key))
				}
			}
		}
		if v.Name == "" {
			continue
		}
		if !v.External && v.VolumeDriver() == DefaultVolumeDriver && !localVolumeName.MatchString(v.Name) {
			c.add("", field+".name", fmt.Sprintf("%s is not a valid volume name: use letters, digits, '_', '.' and '-', starting with a letter or digit, at least 2 characters", quote(v.Name)))
		}
		if other, ok := byName[v.Name]; !ok {
			byName[v.Name] = v
		} else if !sameVolume(other, v) {
			c.add("", field, fmt.Sprintf("names volume %s, as volumes.%s does, but declares it differently (external, driver or driver_opts): give one definition", quote(v.Name), other.Key))
		}
	}
}

// sameVolume reports whether two declarations of one named volume agree.
func sameVolume(a, b Volume) bool {
	return a.External == b.External && a.VolumeDriver() == b.VolumeDriver() && maps.Equal(a.DriverOpts, b.DriverOpts)
}

// validateMounts checks a service's volumes: a named volume must be
// declared at the top level; an anonymous one (no source) is scratch
// space of one container, which a stateful service must not keep its
// data in.
func validateMounts(c *collector, a *App, s *Service) {
	for i, m := range s.Volumes {
		field := fmt.Sprintf("volumes[%d]", i)
		switch {
		case m.Type != "volume" && m.Type != "bind" && m.Type != "tmpfs":
			c.add(s.Name, field, fmt.Sprintf("type %s is not supported; use a named volume, a bind mount or a tmpfs", quote(m.Type)))
		case m.Type == "tmpfs":
			if !path.IsAbs(m.Target) {
				c.add(s.Name, field, fmt.Sprintf("target must be an absolute path in the container, got %s", quote(m.Target)))
			}
		case m.Type == "bind" && (m.Source == "" || !path.IsAbs(m.Source)):
			c.add(s.Name, field, fmt.Sprintf("bind mount source must be an absolute path, got %s", quote(m.Source)))
		case !path.IsAbs(m.Target):
			c.add(s.Name, field, fmt.Sprintf("target must be an absolute path in the container, got %s", quote(m.Target)))
		case m.Type == "volume" && m.Source == "" && s.Stateful:
			c.add(s.Name, field, fmt.Sprintf("anonymous volume at %s: it belongs to one container, and a stateful service's replacement container gets a new, empty one, so its data would be lost; name it (e.g. data:%s) and declare it under the top-level volumes:", m.Target, m.Target))
		case m.Type == "volume" && m.Source != "":
			if _, ok := a.Volume(m.Source); !ok {
				c.add(s.Name, field, fmt.Sprintf("no top-level volume named %s: declare it under volumes:", quote(m.Source)))
			}
		}
	}
}
