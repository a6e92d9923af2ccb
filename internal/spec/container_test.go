package spec

import "testing"

// The restart policy of a live container, as docker compose sets it on
// one host: deploy.restart_policy wins over restart:, berth's own
// unless-stopped without either.
func TestService_RestartPolicy(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s    Service
		want string
	}{
		{Service{}, "unless-stopped"},
		{Service{Container: &ContainerOptions{Restart: "no"}}, "no"},
		{Service{Container: &ContainerOptions{Restart: "on-failure:3"}}, "on-failure:3"},
		{Service{Container: &ContainerOptions{Restart: "no"}, Rollout: &Rollout{Restart: &RestartPolicy{Condition: "any"}}}, "always"},
		{Service{Rollout: &Rollout{Restart: &RestartPolicy{Condition: "on-failure", MaxAttempts: 5}}}, "on-failure:5"},
		{Service{Rollout: &Rollout{Restart: &RestartPolicy{Condition: "on-failure"}}}, "on-failure"},
		{Service{Rollout: &Rollout{Restart: &RestartPolicy{Condition: "none"}}}, "no"},
		{Service{Container: &ContainerOptions{Restart: "always"}, Rollout: &Rollout{Restart: &RestartPolicy{}}}, "always"},
	} {
		if got := c.s.RestartPolicy(); got != c.want {
			t.Errorf("%+v %+v: %q, want %q", c.s.Container, c.s.Rollout, got, c.want)
		}
	}
}
