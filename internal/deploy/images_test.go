package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/enginetest"
	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
)

func TestImageProblem_SaysTheFixThatFits(t *testing.T) {
	pull := func(ref string, err error) error {
		return &pullError{ref: ref, err: fmt.Errorf("docker: pull %s: %w", ref, err)}
	}
	hubDenied := fmt.Errorf("%w (%w): pull access denied for shop, repository does not exist or may require 'docker login'", engine.ErrImageNotFound, engine.ErrRegistryDenied)
	unauthorized := fmt.Errorf("%w: unauthorized: authentication required", engine.ErrRegistryDenied)
	manifest := fmt.Errorf("%w: manifest unknown", engine.ErrImageNotFound)
	unreachable := errors.New("the registry could not be reached or refused the pull: dial tcp 127.0.0.1:1: connect: connection refused")
	cases := []struct {
		name string
		p    imageProblem
		want string
	}{
		{"a service with build:", imageProblem{ref: "shop-web:3f2a9c1", services: []string{"web"}, err: pull("shop-web:3f2a9c1", manifest),
			build: &spec.Build{Context: "/src/shop", Dockerfile: "deploy/Dockerfile", Target: "prod"}},
			`image shop-web:3f2a9c1 (service "web") is not on this host and could not be pulled: image not found: manifest unknown; ` +
				`build it: docker build -t shop-web:3f2a9c1 -f /src/shop/deploy/Dockerfile --target prod /src/shop (berth deploy builds it from build: on the way)`},
		{"build: wins over a denial", imageProblem{ref: "shop", services: []string{"web"}, err: pull("shop", hubDenied), build: &spec.Build{Context: "/src/shop"}},
			`image shop (service "web") is not on this host and could not be pulled: image not found (registry denied access): pull access denied for shop, repository does not exist or may require 'docker login'; ` +
				`build it: docker build -t shop /src/shop (berth deploy builds it from build: on the way)`},
		{"Docker Hub: missing or private", imageProblem{ref: "shop:1", services: []string{"web", "worker"}, err: pull("shop:1", hubDenied)},
			`image shop:1 (services "web", "worker") is not on this host and could not be pulled: image not found (registry denied access): pull access denied for shop, repository does not exist or may require 'docker login'; ` +
				`check the name, and if the image is private, give berth a token for docker.io: berth registry add docker.io -u USER --password-stdin`},
		{"Docker Hub with a token berth has", imageProblem{ref: "shop:1", services: []string{"web"}, err: pull("shop:1", hubDenied), haveAuth: true},
			`image shop:1 (service "web") is not on this host and could not be pulled: image not found (registry denied access): pull access denied for shop, repository does not exist or may require 'docker login'; ` +
				`check the name; if it is right, the token berth has for docker.io cannot read it: store one that can with berth registry add docker.io -u USER --password-stdin`},
		{"a private registry without a token", imageProblem{ref: "registry.example/shop:1", services: []string{"web"}, err: pull("registry.example/shop:1", unauthorized)},
			`image registry.example/shop:1 (service "web") is not on this host and could not be pulled: registry denied access: unauthorized: authentication required; ` +
				`give berth a token for registry.example: berth registry add registry.example -u USER --password-stdin`},
		{"a private registry refusing berth's token", imageProblem{ref: "registry.example/shop:1", services: []string{"web"}, err: pull("registry.example/shop:1", unauthorized), haveAuth: true},
			`image registry.example/shop:1 (service "web") is not on this host and could not be pulled: registry denied access: unauthorized: authentication required; ` +
				`registry.example refused the token berth has for it: store a valid one with berth registry add registry.example -u USER --password-stdin`},
		{"no such tag", imageProblem{ref: "registry.example/shop:nope", services: []string{"web"}, err: pull("registry.example/shop:nope", manifest)},
			`image registry.example/shop:nope (service "web") is not on this host and could not be pulled: image not found: manifest unknown; ` +
				`check the name and tag, and that the image was pushed to registry.example (docker pull registry.example/shop:nope on the server's host shows what the registry says)`},
		{"a registry that does not answer", imageProblem{ref: "127.0.0.1:1/shop:1", services: []string{"web"}, err: pull("127.0.0.1:1/shop:1", unreachable)},
			`image 127.0.0.1:1/shop:1 (service "web") is not on this host and could not be pulled: the registry could not be reached or refused the pull: dial tcp 127.0.0.1:1: connect: connection refused; ` +
				`check that 127.0.0.1:1 answers from the server's host and deploy again, or put the image on that host (docker pull 127.0.0.1:1/shop:1): berth uses an image it finds there`},
		{"not a pull failure", imageProblem{ref: "shop:1", services: []string{"web", "worker"}, err: errors.New("inspect image shop:1: the Docker engine does not answer")},
			`services "web", "worker": inspect image shop:1: the Docker engine does not answer`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Error(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if !errors.Is(&tc.p, tc.p.err) {
				t.Errorf("the problem does not wrap its cause")
			}
		})
	}
}

// Services that share an image get one pull and one line; every missing
// image is reported at once, and the live release is untouched.
func TestDeployer_MissingImagesAreListedOnceEach(t *testing.T) {
	f := enginetest.NewFake()
	f.AddImage("shop:ok", "sha256:0k")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := New(Options{Engine: f, Store: newTestStore(t), Proxy: proxy.New(proxy.Options{Logger: log}), Logger: log})
	dir := t.TempDir()
	compose := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(compose, []byte(`name: shop
services:
  api: { image: "shop-api:3f2a9c1", build: . }
  cron: { image: "shop:ok" }
  web: { image: "registry.example/shop:nope" }
  worker: { image: "registry.example/shop:nope" }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := spec.Load(context.Background(), spec.LoadOptions{Files: []string{compose}})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	_, err = d.Deploy(context.Background(), app, "production", DeployOptions{}, func(p Progress) { lines = append(lines, p.Message) })
	if err == nil {
		t.Fatal("a release with missing images was deployed")
	}
	if !errors.Is(err, engine.ErrImageNotFound) {
		t.Errorf("the error does not wrap ErrImageNotFound: %v", err)
	}
	msg := err.Error()
	t.Logf("the error:\n%s", msg)
	for _, want := range []string{
		`image registry.example/shop:nope (services "web", "worker") is not on this host and could not be pulled`,
		`image shop-api:3f2a9c1 (service "api") is not on this host and could not be pulled`,
		`build it: docker build -t shop-api:3f2a9c1 ` + dir + ` (`,
	} {
		if strings.Count(msg, want) != 1 {
			t.Errorf("the error does not say once %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "docker build -t registry.example") || strings.Contains(msg, "shop:ok") {
		t.Errorf("docker build is suggested for an image without build:, or a found image is listed:\n%s", msg)
	}
	pulls := 0
	for _, l := range lines {
		if l == "pulling registry.example/shop:nope" {
			pulls++
		}
	}
	if pulls != 1 {
		t.Errorf("the shared image was pulled %d times, want once:\n%s", pulls, strings.Join(lines, "\n"))
	}
}
