package enginetest

import (
	"context"
	"maps"
	"slices"
)

// The calls that find and remove what an app environment left: networks
// and configs by label (docker and swarm backends have them too).

func (f *Fake) labelLocked(kind, name string, labels map[string]string) {
	if f.objLabels == nil {
		f.objLabels = map[string]map[string]string{}
	}
	f.objLabels[kind+"/"+name] = maps.Clone(labels)
}

// NetworksByLabel lists the names of the networks whose labels match,
// sorted.
func (f *Fake) NetworksByLabel(ctx context.Context, labels map[string]string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("NetworksByLabel"); err != nil {
		return nil, err
	}
	var out []string
	for name := range f.networks {
		if l := f.objLabels["network/"+name]; matches(l, labels) && f.foreignLocked(l) == "" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ConfigsByLabel lists the names of the configs whose labels match,
// sorted.
func (f *Fake) ConfigsByLabel(ctx context.Context, labels map[string]string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name := range f.workLocked().configs {
		if l := f.objLabels["config/"+name]; matches(l, labels) && f.foreignLocked(l) == "" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// RemoveConfig removes a config; a missing one is not an error.
func (f *Fake) RemoveConfig(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.workLocked().configs, name)
	delete(f.objLabels, "config/"+name)
	return nil
}
