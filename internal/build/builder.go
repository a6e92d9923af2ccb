package build

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// Request is one image build: a service's build: section, the tag to
// give the image, and the optional test to run in it.
type Request struct {
	App        string            `json:"app"`
	Service    string            `json:"service"`
	Tag        string            `json:"tag"`
	Dockerfile string            `json:"dockerfile,omitempty"`
	Target     string            `json:"target,omitempty"`
	Args       map[string]string `json:"args,omitempty"`
	// Test runs in a container of the built image; a non-zero exit
	// fails the build (x-berth.test).
	Test []string `json:"test,omitempty"`
	// Revision is the git commit (or content hash) the image is built from.
	Revision string `json:"revision,omitempty"`
	// Container is the service's per-container Compose settings, which
	// the Test container gets too (see Builder.TestOptions).
	Container *spec.ContainerOptions `json:"container,omitempty"`

	// BuildKit builds (issue 13 item 6): the rest of the build: section
	// (see Options in buildkit.go).
	Options
}

// TestTimeout bounds an x-berth.test run.
const TestTimeout = 15 * time.Minute

// Builder builds images on an engine.
type Builder struct {
	Engine engine.Engine
	// Credentials finds registry credentials: a built image whose
	// registry has them is pushed there.
	Credentials engine.CredentialLookup
	// TestOptions maps a Request's Container settings onto the test
	// container's (deploy.TestContainerOptions); nil: the test container
	// gets none. It returns a note for each setting it leaves out.
	TestOptions func(*spec.ContainerOptions) (*engine.ContainerOptions, []string)
}

// Build builds req from the tar build context ctxTar, reporting the build
// output and the test's output to log, and returns the image ID.
func (b *Builder) Build(ctx context.Context, req Request, ctxTar io.Reader, log func(string)) (string, error) {
	if req.Tag == "" {
		return "", fmt.Errorf("build of %s/%s: no tag", req.App, req.Service)
	}
	start := time.Now()
	labels := map[string]string{"berth.app": req.App, "berth.service": req.Service}
	if req.Revision != "" {
		labels["berth.revision"] = req.Revision
	}
	id, err := b.Engine.BuildImage(ctx, ctxTar, req.engineOptions(labels, b.Credentials), log)
	if err != nil {
		return "", fmt.Errorf("build of service %q failed: %w", req.Service, err)
	}
	log(fmt.Sprintf("built %s (%s) in %s", req.Tag, shortID(id), time.Since(start).Round(time.Millisecond)))
	if err := b.test(ctx, req, id, log); err != nil {
		return "", err
	}
	return id, b.push(ctx, req.Tag, log)
}

// push sends the image to its registry when berth has credentials for
// it; an image for this host only (no registry in its name) stays here.
func (b *Builder) push(ctx context.Context, tag string, log func(string)) error {
	auth := engine.AuthFor(tag, b.Credentials)
	if auth == nil {
		return nil
	}
	log("pushing " + tag + " to " + auth.Server)
	start := time.Now()
	err := b.Engine.PushImage(ctx, tag, auth, nil)
	if err != nil {
		return fmt.Errorf("push %s to %s failed: %w; the image is built and on this host, deploy again once the registry answers", tag, auth.Server, err)
	}
	log(fmt.Sprintf("pushed %s in %s", tag, time.Since(start).Round(time.Millisecond)))
	return nil
}

// test runs req.Test in a container of the built image.
func (b *Builder) test(ctx context.Context, req Request, id string, log func(string)) error {
	if len(req.Test) == 0 {
		return nil
	}
	log("test: " + strings.Join(req.Test, " "))
	ctx, cancel := context.WithTimeout(ctx, TestTimeout)
	defer cancel()
	cs := engine.ContainerSpec{
		Name:   fmt.Sprintf("%s-%s-test-%d", req.App, req.Service, time.Now().UnixNano()%1e9),
		Image:  id,
		Cmd:    req.Test,
		Labels: map[string]string{"berth.app": req.App, "berth.service": req.Service, "berth.oneoff": "true", "berth.test": "true"},
	}
	if req.Container != nil && b.TestOptions != nil {
		// The service's container settings (cap_add, tmpfs, read_only, …).
		var notes []string
		cs.Options, notes = b.TestOptions(req.Container)
		for _, n := range notes {
			log("test: " + n)
		}
	}
	code, err := engine.RunOnce(ctx, b.Engine, cs, func(line string) { log("  test | " + line) })
	if ctx.Err() != nil {
		return fmt.Errorf("test of service %q did not finish within %s; nothing was deployed", req.Service, TestTimeout)
	}
	if err != nil {
		return fmt.Errorf("test of service %q could not run: %w", req.Service, err)
	}
	if code != 0 {
		return fmt.Errorf("test of service %q failed (%s exited with code %d); nothing was deployed", req.Service, strings.Join(req.Test, " "), code)
	}
	log("test passed")
	return nil
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}
