package enginetest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/engine"
)

// Fake is an in-memory engine.Engine for unit tests of the packages above
// the engine. It runs nothing: a created container is "running" at once,
// gets a loopback address on its network (nothing listens there) and stays
// running until it is stopped, removed, or a test moves it with SetState.
// With Serve, the containers of an image are real HTTP servers on
// loopback addresses instead, for in-process tests of the switch.
// It emits the events a real engine would (start, die, health, destroy)
// to every Watch, and passes the contract (Run with WithoutRuntime).
//
// Differences from a real engine, on purpose: restart policies are only
// recorded (RestartPolicy), nothing restarts by itself; BuildImage does
// not read the Dockerfile; logs are what the test appends (AppendLog).
//
// It is safe for concurrent use. The zero value is not usable: NewFake.
type Fake struct {
	mu     sync.Mutex
	now    func() time.Time
	seq    int
	images map[string]*engine.Image // by ID
	tags   map[string]string        // reference → image ID
	remote map[string]engine.Image  // pullable reference → image
	pushed []string
	// cachePrunes counts PruneBuildCache calls (BuildKit builds).
	cachePrunes int
	containers  map[string]*fakeContainer // by ID
	names       map[string]string         // container name → ID
	networks    map[string]string         // name → ID
	netSpecs    map[string]engine.NetworkSpec
	volumes     map[string]engine.Volume
	subs        map[*fakeSub]struct{}
	changed     chan struct{} // closed and replaced on every change
	failures    map[string][]error
	work        workState // workloads, secrets, nodes (fake_workloads.go)
	// objLabels are the labels of networks and configs, for the removal
	// calls (fake_remove.go).
	objLabels map[string]map[string]string
	// serving says which images' containers serve HTTP (fake_serve.go).
	serving map[string]serving
	// server is the id of the berth server the fake acts for
	// (fake_owner.go).
	server string
}

// NewFake returns an empty fake engine.
func NewFake() *Fake {
	return &Fake{
		now:        time.Now,
		images:     map[string]*engine.Image{},
		tags:       map[string]string{},
		remote:     map[string]engine.Image{},
		containers: map[string]*fakeContainer{},
		names:      map[string]string{},
		networks:   map[string]string{},
		volumes:    map[string]engine.Volume{},
		subs:       map[*fakeSub]struct{}{},
		changed:    make(chan struct{}),
		failures:   map[string][]error{},
	}
}

var _ engine.Engine = (*Fake)(nil)

// SetClock makes the fake stamp containers, images and events with now
// (time.Now by default).
func (f *Fake) SetClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// AddImage puts an image on the fake host under ref (a name:tag; may be
// empty). An empty id is derived from ref.
func (f *Fake) AddImage(ref, id string) {
	f.PutImage(engine.Image{ID: id}, ref)
}

// PutImage puts img (its labels, exposed ports, …) on the fake host and
// tags it with refs. An empty img.ID is derived from the refs.
func (f *Fake) PutImage(img engine.Image, refs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putImageLocked(img, refs...)
}

func (f *Fake) putImageLocked(img engine.Image, refs ...string) string {
	if img.ID == "" {
		img.ID = digestOf(strings.Join(refs, ","))
	}
	if img.Created.IsZero() {
		img.Created = f.now()
	}
	if old := f.images[img.ID]; old != nil {
		img.RepoTags = old.RepoTags
	}
	for _, ref := range refs {
		if ref == "" || ref == img.ID {
			continue
		}
		if prev, ok := f.tags[ref]; ok && prev != img.ID {
			if p := f.images[prev]; p != nil {
				p.RepoTags = slices.DeleteFunc(slices.Clone(p.RepoTags), func(s string) bool { return s == ref })
			}
		}
		f.tags[ref] = img.ID
		if !slices.Contains(img.RepoTags, ref) {
			img.RepoTags = append(slices.Clone(img.RepoTags), ref)
		}
	}
	f.images[img.ID] = &img
	f.notifyLocked()
	return img.ID
}

// AddRemoteImage makes ref pullable (PullImage) as image id (derived from
// ref when empty). References not added are missing from the registry.
func (f *Fake) AddRemoteImage(ref, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" {
		id = digestOf(ref)
	}
	f.remote[ref] = engine.Image{ID: id}
}

// Pushed lists the references pushed so far, in order.
func (f *Fake) Pushed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.pushed)
}

// FailNext makes the next call of the engine.Engine method named method
// (e.g. "CreateContainer") return err. Calls queue up: FailNext twice
// fails the next two calls.
func (f *Fake) FailNext(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method] = append(f.failures[method], err)
}

// failLocked pops an injected failure for method.
func (f *Fake) failLocked(method string) error {
	q := f.failures[method]
	if len(q) == 0 {
		return nil
	}
	f.failures[method] = q[1:]
	return q[0]
}

func (f *Fake) fail(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failLocked(method)
}

// notifyLocked wakes log followers.
func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *Fake) nextIDLocked(kind string) string {
	f.seq++
	return strings.TrimPrefix(digestOf(fmt.Sprintf("%s-%d-%d", kind, f.seq, f.now().UnixNano())), "sha256:")
}

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Ping answers with the fake's version.
func (f *Fake) Ping(ctx context.Context) (engine.Info, error) {
	if err := f.fail("Ping"); err != nil {
		return engine.Info{}, err
	}
	return engine.Info{Name: "fake", Version: "0.0.0-fake", APIVersion: "fake"}, ctx.Err()
}

// resolveImageLocked finds a local image by ID (with or without
// "sha256:"), or by reference.
func (f *Fake) resolveImageLocked(ref string) *engine.Image {
	if img := f.images[ref]; img != nil {
		return img
	}
	if img := f.images["sha256:"+ref]; img != nil {
		return img
	}
	if id, ok := f.tags[ref]; ok {
		return f.images[id]
	}
	if !strings.Contains(ref, ":") && !strings.Contains(ref, "@") {
		if id, ok := f.tags[ref+":latest"]; ok {
			return f.images[id]
		}
	}
	return nil
}

func cloneImage(img *engine.Image) engine.Image {
	c := *img
	c.RepoTags = slices.Clone(img.RepoTags)
	c.Labels = maps.Clone(img.Labels)
	c.ExposedPorts = slices.Clone(img.ExposedPorts)
	return c
}

// InspectImage resolves ref among the fake host's images.
func (f *Fake) InspectImage(ctx context.Context, ref string) (engine.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("InspectImage"); err != nil {
		return engine.Image{}, err
	}
	img := f.resolveImageLocked(ref)
	if img == nil {
		return engine.Image{}, fmt.Errorf("fake: image %s: %w", ref, engine.ErrImageNotFound)
	}
	return cloneImage(img), nil
}

// PullImage copies a reference added with AddRemoteImage onto the host.
func (f *Fake) PullImage(ctx context.Context, ref string, auth *engine.RegistryAuth, progress func(string)) error {
	f.mu.Lock()
	if err := f.failLocked("PullImage"); err != nil {
		f.mu.Unlock()
		return err
	}
	img, ok := f.remote[ref]
	if ok {
		f.putImageLocked(img, ref)
	}
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("fake: pull %s: %w: manifest unknown", ref, engine.ErrImageNotFound)
	}
	if progress != nil {
		progress("Pulling from " + ref)
		progress("Pull complete")
	}
	return nil
}

// PushImage records a push of a local image.
func (f *Fake) PushImage(ctx context.Context, ref string, auth *engine.RegistryAuth, progress func(string)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("PushImage"); err != nil {
		return err
	}
	if f.resolveImageLocked(ref) == nil {
		return fmt.Errorf("fake: push %s: %w", ref, engine.ErrImageNotFound)
	}
	f.pushed = append(f.pushed, ref)
	if progress != nil {
		progress("Pushed " + ref)
	}
	return nil
}

// ListImages lists the fake host's images, oldest first.
func (f *Fake) ListImages(ctx context.Context) ([]engine.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("ListImages"); err != nil {
		return nil, err
	}
	out := make([]engine.Image, 0, len(f.images))
	for _, img := range f.images {
		out = append(out, cloneImage(img))
	}
	slices.SortFunc(out, func(a, b engine.Image) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// RemoveImage removes an image and its tags, refusing (ErrConflict) while
// a container uses it.
func (f *Fake) RemoveImage(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("RemoveImage"); err != nil {
		return err
	}
	img := f.resolveImageLocked(id)
	if img == nil {
		return nil
	}
	for _, c := range f.containers {
		if c.c.ImageID == img.ID {
			return fmt.Errorf("fake: remove image %s: used by container %s: %w", id, c.c.Name, engine.ErrConflict)
		}
	}
	for _, ref := range img.RepoTags {
		delete(f.tags, ref)
	}
	delete(f.images, img.ID)
	f.notifyLocked()
	return nil
}

// BuildImage consumes the build context and makes an image from its
// content: tagged with opts.Tags, labelled with opts.Labels. It does not
// interpret the Dockerfile.
func (f *Fake) BuildImage(ctx context.Context, buildContext io.Reader, opts engine.BuildOptions, log func(string)) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, buildContext); err != nil {
		return "", fmt.Errorf("fake: build image: read context: %w", err)
	}
	fmt.Fprintf(h, "%v %v %s", opts.BuildArgs, opts.Labels, opts.Target)
	if log != nil {
		log("Step 1/1 : fake build")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("BuildImage"); err != nil {
		return "", err
	}
	id := f.putImageLocked(engine.Image{ID: "sha256:" + hex.EncodeToString(h.Sum(nil)), Labels: maps.Clone(opts.Labels)}, opts.Tags...)
	if log != nil {
		log("Successfully built " + strings.TrimPrefix(id, "sha256:")[:12])
	}
	return id, nil
}

// PruneBuildCache counts its calls (BuildCachePrunes); the fake keeps no
// build cache, so nothing is freed.
func (f *Fake) PruneBuildCache(ctx context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("PruneBuildCache"); err != nil {
		return 0, err
	}
	f.cachePrunes++
	return 0, nil
}

// BuildCachePrunes is how many times PruneBuildCache was called.
func (f *Fake) BuildCachePrunes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cachePrunes
}

// EnsureNetwork creates the named network unless it exists.
func (f *Fake) EnsureNetwork(ctx context.Context, name string, labels map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("EnsureNetwork"); err != nil {
		return "", err
	}
	if id, ok := f.networks[name]; ok {
		return id, f.ownLocked("network", name, f.objLabels["network/"+name])
	}
	id := f.nextIDLocked("network")
	f.networks[name] = id
	f.labelLocked("network", name, f.stampLocked(labels))
	return id, nil
}

// RemoveNetwork removes a network; a missing one is not an error.
func (f *Fake) RemoveNetwork(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.ownLocked("network", name, f.objLabels["network/"+name]); err != nil {
		return err
	}
	delete(f.networks, name)
	delete(f.netSpecs, name)
	delete(f.objLabels, "network/"+name)
	return nil
}

// EnsureVolume creates the volume s describes unless one of that name
// exists, and returns the volume as it is.
func (f *Fake) EnsureVolume(ctx context.Context, s engine.VolumeSpec) (engine.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("EnsureVolume"); err != nil {
		return engine.Volume{}, err
	}
	v, ok := f.volumes[s.Name]
	if ok {
		if err := f.ownLocked("volume", s.Name, v.Labels); err != nil {
			return engine.Volume{}, err
		}
	} else {
		driver := s.Driver
		if driver == "" {
			driver = "local"
		}
		v = engine.Volume{Name: s.Name, Driver: driver, Options: maps.Clone(s.DriverOpts), Labels: maps.Clone(f.stampLocked(s.Labels)), Created: f.now(), Size: -1, RefCount: -1}
		f.volumes[s.Name] = v
	}
	return cloneVolume(v), nil
}

// InspectVolume returns the named volume, or engine.ErrNotFound.
func (f *Fake) InspectVolume(ctx context.Context, name string) (engine.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("InspectVolume"); err != nil {
		return engine.Volume{}, err
	}
	v, ok := f.volumes[name]
	if !ok {
		return engine.Volume{}, fmt.Errorf("volume %s: %w", name, engine.ErrNotFound)
	}
	return cloneVolume(v), nil
}

func cloneVolume(v engine.Volume) engine.Volume {
	v.Options, v.Labels = maps.Clone(v.Options), maps.Clone(v.Labels)
	return v
}

// ListVolumes lists volumes whose labels match, by name.
func (f *Fake) ListVolumes(ctx context.Context, labels map[string]string) ([]engine.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failLocked("ListVolumes"); err != nil {
		return nil, err
	}
	var out []engine.Volume
	for _, v := range f.volumes {
		if matches(v.Labels, labels) && f.foreignLocked(v.Labels) == "" {
			out = append(out, cloneVolume(v))
		}
	}
	slices.SortFunc(out, func(a, b engine.Volume) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// RemoveVolume removes a volume; a missing one is not an error.
func (f *Fake) RemoveVolume(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.ownLocked("volume", name, f.volumes[name].Labels); err != nil {
		return err
	}
	delete(f.volumes, name)
	return nil
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}
