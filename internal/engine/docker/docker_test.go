package docker_test

import (
	"testing"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/engine/enginetest"
)

func TestBackend_Contract(t *testing.T) {
	b, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	enginetest.RequireEngine(t, b)
	img := enginetest.BuildTestImage(t, "berth-e2e-app:latest")
	enginetest.Run(t, func(*testing.T) engine.Engine { return b }, img)
}
