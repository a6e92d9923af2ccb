package spec

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Rollout is a service's Compose deploy section beyond replicas and
// resource limits: how a cluster engine (Swarm) rolls it out, places it
// and restarts it. The single-host engine reads none of it (it switches
// routed services blue-green); berth server --engine swarm maps all of it.
type Rollout struct {
	Update   *UpdateConfig `json:"update_config,omitempty"`
	Rollback *UpdateConfig `json:"rollback_config,omitempty"`
	// Constraints are deploy.placement.constraints ("node.role==manager").
	Constraints []string `json:"constraints,omitempty"`
	// Spread are deploy.placement.preferences' spread attributes.
	Spread []string `json:"spread,omitempty"`
	// MaxPerNode is deploy.placement.max_replicas_per_node (0: no cap).
	MaxPerNode uint64 `json:"max_replicas_per_node,omitempty"`
	// Reservations are deploy.resources.reservations.
	ReserveNanoCPUs    int64 `json:"reserve_nano_cpus,omitempty"`
	ReserveMemoryBytes int64 `json:"reserve_memory_bytes,omitempty"`
	// PidsLimit is deploy.resources.limits.pids.
	PidsLimit int64          `json:"pids_limit,omitempty"`
	Restart   *RestartPolicy `json:"restart_policy,omitempty"`
}

// UpdateConfig is Compose's deploy.update_config or rollback_config.
type UpdateConfig struct {
	// Parallelism is nil when unset (Swarm's default, 1); 0 means all at once.
	Parallelism     *uint64  `json:"parallelism,omitempty"`
	Delay           Duration `json:"delay,omitempty"`
	FailureAction   string   `json:"failure_action,omitempty"` // pause, continue, rollback
	Monitor         Duration `json:"monitor,omitempty"`
	MaxFailureRatio float32  `json:"max_failure_ratio,omitempty"`
	Order           string   `json:"order,omitempty"` // start-first, stop-first
}

// RestartPolicy is Compose's deploy.restart_policy.
type RestartPolicy struct {
	Condition   string   `json:"condition,omitempty"` // none, on-failure, any
	Delay       Duration `json:"delay,omitempty"`
	MaxAttempts uint64   `json:"max_attempts,omitempty"`
	Window      Duration `json:"window,omitempty"`
}

// convertRollout reads d (may be nil) into s.Rollout, reporting values
// Swarm would refuse.
func convertRollout(c *collector, s *Service, d *types.DeployConfig) {
	if d == nil {
		return
	}
	if d.Mode != "" && d.Mode != "replicated" {
		c.add(s.Name, "deploy.mode", fmt.Sprintf("berth runs replicated services only, got %q; remove it and set deploy.replicas", d.Mode))
	}
	r := Rollout{
		Constraints: slices.Clone(d.Placement.Constraints),
		MaxPerNode:  d.Placement.MaxReplicas,
	}
	for _, p := range d.Placement.Preferences {
		if p.Spread != "" {
			r.Spread = append(r.Spread, p.Spread)
		}
	}
	if l := d.Resources.Limits; l != nil {
		r.PidsLimit = l.Pids
	}
	if rv := d.Resources.Reservations; rv != nil {
		r.ReserveNanoCPUs = nanoCPUs(rv.NanoCPUs)
		r.ReserveMemoryBytes = int64(rv.MemoryBytes)
	}
	r.Update = convertUpdate(c, s.Name, "deploy.update_config", d.UpdateConfig, true)
	r.Rollback = convertUpdate(c, s.Name, "deploy.rollback_config", d.RollbackConfig, false)
	if rp := d.RestartPolicy; rp != nil {
		p := RestartPolicy{Condition: rp.Condition}
		switch rp.Condition {
		case "", "none", "on-failure", "any":
		default:
			c.add(s.Name, "deploy.restart_policy.condition", fmt.Sprintf("must be none, on-failure or any, got %q", rp.Condition))
		}
		if rp.Delay != nil {
			p.Delay = Duration(*rp.Delay)
		}
		if rp.MaxAttempts != nil {
			p.MaxAttempts = *rp.MaxAttempts
		}
		if rp.Window != nil {
			p.Window = Duration(*rp.Window)
		}
		r.Restart = &p
	}
	for _, ct := range r.Constraints {
		if !validConstraint(ct) {
			c.add(s.Name, "deploy.placement.constraints", fmt.Sprintf("%q is not a constraint: write ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE, e.g. node.role==manager", ct))
		}
	}
	if r.isZero() {
		return
	}
	s.Rollout = &r
}

func convertUpdate(c *collector, svc, field string, u *types.UpdateConfig, update bool) *UpdateConfig {
	if u == nil {
		return nil
	}
	out := &UpdateConfig{
		Parallelism:     u.Parallelism,
		Delay:           Duration(time.Duration(u.Delay)),
		FailureAction:   u.FailureAction,
		Monitor:         Duration(time.Duration(u.Monitor)),
		MaxFailureRatio: u.MaxFailureRatio,
		Order:           u.Order,
	}
	actions := []string{"", "pause", "continue", "rollback"}
	if !update {
		actions = actions[:3] // a rollback cannot roll back
	}
	if !slices.Contains(actions, u.FailureAction) {
		want := "pause, continue or rollback"
		if !update {
			want = "pause or continue"
		}
		c.add(svc, field+".failure_action", fmt.Sprintf("must be %s, got %q", want, u.FailureAction))
	}
	if u.Order != "" && u.Order != "start-first" && u.Order != "stop-first" {
		c.add(svc, field+".order", fmt.Sprintf("must be start-first or stop-first, got %q", u.Order))
	}
	if u.MaxFailureRatio < 0 || u.MaxFailureRatio > 1 {
		c.add(svc, field+".max_failure_ratio", fmt.Sprintf("must be between 0 and 1, got %g", u.MaxFailureRatio))
	}
	return out
}

// validConstraint reports whether ct has the form Swarm accepts:
// an attribute, == or !=, and a value.
func validConstraint(ct string) bool {
	for _, op := range []string{"==", "!="} {
		if attr, value, ok := strings.Cut(ct, op); ok {
			return strings.Trim(attr, " \t") != "" && strings.Trim(value, " \t") != ""
		}
	}
	return false
}

func (r Rollout) isZero() bool {
	return r.Update == nil && r.Rollback == nil && len(r.Constraints) == 0 && len(r.Spread) == 0 &&
		r.MaxPerNode == 0 && r.ReserveNanoCPUs == 0 && r.ReserveMemoryBytes == 0 && r.PidsLimit == 0 && r.Restart == nil
}
