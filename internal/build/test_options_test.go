package build

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/spec"
)

// recorder is the fake engine, recording the specs of the containers it
// is asked to create and refusing them.
type recorder struct {
	*enginetest.Fake
	specs []engine.ContainerSpec
}

func (r *recorder) CreateContainer(ctx context.Context, s engine.ContainerSpec) (engine.Container, error) {
	r.specs = append(r.specs, s)
	return engine.Container{}, errors.New("recorded")
}

// The x-berth.test container gets the service's container settings,
// through Builder.TestOptions, with its notes in the build log.
func TestBuilder_TestContainerGetsTheServiceSettings(t *testing.T) {
	t.Parallel()
	rec := &recorder{Fake: enginetest.NewFake()}
	b := &Builder{Engine: rec, TestOptions: func(o *spec.ContainerOptions) (*engine.ContainerOptions, []string) {
		return &engine.ContainerOptions{ReadOnly: o.ReadOnly, Hostname: o.Hostname}, []string{"a note"}
	}}
	var lines []string
	_, err := b.Build(context.Background(), Request{App: "shop", Service: "web", Tag: "shop-web:1", Test: []string{"true"},
		Container: &spec.ContainerOptions{ReadOnly: true, Hostname: "web1"}}, bytes.NewReader(nil), func(l string) { lines = append(lines, l) })
	if err == nil || !strings.Contains(err.Error(), "could not run") {
		t.Fatalf("build: %v", err)
	}
	if len(rec.specs) != 1 || rec.specs[0].Options == nil || !rec.specs[0].Options.ReadOnly || rec.specs[0].Options.Hostname != "web1" {
		t.Fatalf("test container specs: %+v", rec.specs)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "test: a note") {
		t.Errorf("the note is not in the log: %q", lines)
	}
}
