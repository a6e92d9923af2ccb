package docker_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/engine"
	"github.com/berth-dev/berth/internal/engine/docker"
	"github.com/berth-dev/berth/internal/engine/enginetest"
)

func TestBackend_Contract(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker")
	}
	b, err := docker.New(docker.Options{})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = b.Ping(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("BERTH_REQUIRE_DOCKER=1 but no Docker engine answers: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	img := enginetest.BuildTestImage(t, "berth-e2e-app:latest")
	enginetest.Run(t, func(*testing.T) engine.Engine { return b }, img)
}
