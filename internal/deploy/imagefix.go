package deploy

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/spec"
)

// pullError is an image that is not on the host and could not be pulled.
type pullError struct {
	ref string
	err error // the engine's, wrapping ErrImageNotFound, ErrRegistryDenied or neither
}

func (e *pullError) Error() string {
	return fmt.Sprintf("image %s is not on this host and could not be pulled: %v", e.ref, e.err)
}

func (e *pullError) Unwrap() error { return e.err }

// imageProblem is an image a release cannot have, with every service
// that uses it: it is reported once, with the fix that fits.
type imageProblem struct {
	ref      string
	services []string
	// build is the build: of one of the services, nil when none has one.
	build *spec.Build
	err   error
	// haveAuth: berth has credentials for the image's registry.
	haveAuth bool
}

// imageProblems is the error for ps, one line per image, or nil.
func imageProblems(ps []*imageProblem) error {
	if len(ps) == 0 {
		return nil
	}
	return problemList(ps)
}

// problemList is several images a release cannot have: a count, then one
// indented line each.
type problemList []*imageProblem

func (l problemList) Error() string {
	if len(l) == 1 {
		return l[0].Error()
	}
	refs := make([]string, len(l))
	for i, p := range l {
		refs[i] = p.ref
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d images cannot be used (%s):", len(l), strings.Join(refs, ", "))
	for _, p := range l {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

func (l problemList) Unwrap() []error {
	out := make([]error, len(l))
	for i, p := range l {
		out[i] = p
	}
	return out
}

func (p *imageProblem) Unwrap() error { return p.err }

func (p *imageProblem) Error() string {
	who := "service "
	if len(p.services) > 1 {
		who = "services "
	}
	for i, s := range p.services {
		if i > 0 {
			who += ", "
		}
		who += fmt.Sprintf("%q", s)
	}
	var pe *pullError
	if !errors.As(p.err, &pe) {
		return fmt.Sprintf("%s: %v", who, p.err)
	}
	// The engine's error starts with what it did ("docker: pull REF: "),
	// which the line already says.
	reason := pe.err.Error()
	if _, rest, ok := strings.Cut(reason, "pull "+p.ref+": "); ok {
		reason = rest
	}
	return fmt.Sprintf("image %s (%s) is not on this host and could not be pulled: %s; %s", p.ref, who, reason, p.fix(pe.err))
}

// fix says what to do about an image that could not be pulled: build it
// when a service has build:, give berth credentials when the registry
// refused it, else check the name or the registry and pull it.
func (p *imageProblem) fix(pullErr error) string {
	host := engine.RegistryOf(p.ref)
	denied, notFound := errors.Is(pullErr, engine.ErrRegistryDenied), errors.Is(pullErr, engine.ErrImageNotFound)
	login := fmt.Sprintf("berth registry add %s -u USER --password-stdin", host)
	switch {
	case p.build != nil:
		return fmt.Sprintf("build it: %s (berth deploy builds it from build: on the way)", buildCommand(p.ref, p.build))
	case denied && notFound && p.haveAuth:
		return fmt.Sprintf("check the name; if it is right, the token berth has for %s cannot read it: store one that can with %s", host, login)
	case denied && p.haveAuth:
		return fmt.Sprintf("%s refused the token berth has for it: store a valid one with %s", host, login)
	case denied && notFound:
		return fmt.Sprintf("check the name, and if the image is private, give berth a token for %s: %s", host, login)
	case denied:
		return fmt.Sprintf("give berth a token for %s: %s", host, login)
	case notFound:
		return fmt.Sprintf("check the name and tag, and that the image was pushed to %s (docker pull %s on the server's host shows what the registry says)", host, p.ref)
	default:
		return fmt.Sprintf("check that %s answers from the server's host and deploy again, or put the image on that host (docker pull %s): berth uses an image it finds there", host, p.ref)
	}
}

// buildCommand is the docker build command that builds b as ref.
func buildCommand(ref string, b *spec.Build) string {
	args := []string{"docker", "build", "-t", ref}
	if b.Dockerfile != "" && b.Dockerfile != "Dockerfile" {
		f := b.Dockerfile
		if !filepath.IsAbs(f) {
			f = filepath.Join(b.Context, f) // docker build reads -f from the current directory
		}
		args = append(args, "-f", f)
	}
	if b.Target != "" {
		args = append(args, "--target", b.Target)
	}
	ctx := b.Context
	if ctx == "" {
		ctx = "."
	}
	return strings.Join(append(args, ctx), " ")
}
