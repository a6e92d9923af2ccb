package spec

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Autoscale is a service's x-berth.autoscale: the bounds its replica
// count moves in, the per-replica load it aims at, and the schedules
// that change the bounds by the clock.
type Autoscale struct {
	Min int `json:"min"`
	Max int `json:"max"`
	// Per replica: requests per second, requests in flight, and the
	// service's p95 latency (0: not a target). At least one is set.
	TargetRPS      float64  `json:"target_rps,omitempty"`
	TargetInFlight float64  `json:"target_in_flight,omitempty"`
	TargetP95      Duration `json:"target_p95,omitempty"`
	// TargetCPU is the share of a replica's CPU limit
	// (deploy.resources.limits.cpus), or of one core without one, that
	// its processes use, averaged over the replicas (0: not a target).
	TargetCPU float64 `json:"target_cpu,omitempty"`
	// ScaleOutWindow is how long the load must stay above the target
	// before replicas are added; ScaleInCooldown how long it must stay
	// below, and how long after any scale a scale-in waits.
	ScaleOutWindow  Duration `json:"scale_out_window"`
	ScaleInCooldown Duration `json:"scale_in_cooldown"`
	// ScaleInStep is the most replicas one scale-in removes, as a share
	// of the current count (at least one replica).
	ScaleInStep float64    `json:"scale_in_step"`
	Schedules   []Schedule `json:"schedules,omitempty"`
}

// Schedule is a recurring scheduled action: from each time Cron fires
// (in Timezone) the bounds are Min and Max, and with Replicas the count
// is set to it once.
type Schedule struct {
	Cron     string `json:"cron"`
	Timezone string `json:"timezone,omitempty"`
	Min      int    `json:"min"`
	Max      int    `json:"max"`
	Replicas int    `json:"replicas,omitempty"`
}

// Defaults of x-berth.autoscale.
const (
	DefaultScaleOutWindow  = 15 * time.Second
	DefaultScaleInCooldown = 5 * time.Minute
	DefaultScaleInStep     = 0.5
	// MaxAutoscale bounds max, as berth scale's one-step limit.
	MaxAutoscale = 100
)

var (
	autoscaleKeys = []string{"max", "min", "scale_in_cooldown", "scale_in_step", "scale_out_window", "schedules", "target"}
	targetKeys    = []string{"cpu", "in_flight", "p95", "rps"}
	scheduleKeys  = []string{"cron", "max", "min", "replicas", "timezone"}
)

// CronParser reads a schedule's cron expression: five fields, or a
// descriptor such as @daily.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron reads a schedule's cron expression in its time zone.
func ParseCron(expr, tz string) (cron.Schedule, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("unknown time zone %s: use an IANA name such as \"Asia/Seoul\"", quote(tz))
		}
		loc = l
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%s is not a cron expression (%v): use five fields, minute hour day-of-month month day-of-week, e.g. \"0 10 * * *\"", quote(expr), err)
	}
	if spec, ok := s.(*cron.SpecSchedule); ok {
		spec.Location = loc
	}
	return s, nil
}

func parseAutoscale(c *collector, s *Service, field string, raw any) {
	m, ok := parseMapping(c, s.Name, field, raw, autoscaleKeys)
	if !ok {
		return
	}
	a := &Autoscale{ScaleOutWindow: Duration(DefaultScaleOutWindow), ScaleInCooldown: Duration(DefaultScaleInCooldown), ScaleInStep: DefaultScaleInStep}
	for _, k := range sortedKeys(m) {
		v, f := m[k], field+"."+k
		switch k {
		case "min", "max":
			n, ok := parseInt(c, s.Name, f, v)
			if !ok {
				continue
			}
			if k == "min" {
				a.Min = n
			} else {
				a.Max = n
			}
		case "scale_out_window", "scale_in_cooldown":
			d, ok := parseDuration(c, s.Name, f, v)
			if !ok {
				continue
			}
			if k == "scale_out_window" {
				a.ScaleOutWindow = d
			} else {
				a.ScaleInCooldown = d
			}
		case "scale_in_step":
			a.ScaleInStep = parseShare(c, s.Name, f, v, "of the replicas", "50%")
		case "target":
			parseTarget(c, s.Name, f, v, a)
		case "schedules":
			list, ok := v.([]any)
			if !ok {
				c.add(s.Name, f, fmt.Sprintf("must be a list of {cron, timezone, min, max, replicas}, got %s", describe(v)))
				continue
			}
			for i, e := range list {
				a.Schedules = append(a.Schedules, parseSchedule(c, s.Name, fmt.Sprintf("%s[%d]", f, i), e))
			}
		default:
			c.add(s.Name, f, unknownKey(k, autoscaleKeys))
		}
	}
	s.Autoscale = a
}

func parseTarget(c *collector, service, field string, v any, a *Autoscale) {
	m, ok := parseMapping(c, service, field, v, targetKeys)
	if !ok {
		return
	}
	for _, k := range sortedKeys(m) {
		v, f := m[k], field+"."+k
		switch k {
		case "rps", "in_flight":
			n, ok := parseNumber(v)
			if !ok || n <= 0 {
				c.add(service, f, fmt.Sprintf("must be a number above 0 (per replica), got %s", describe(v)))
				continue
			}
			if k == "rps" {
				a.TargetRPS = n
			} else {
				a.TargetInFlight = n
			}
		case "p95":
			if d, ok := parseDuration(c, service, f, v); ok {
				if d <= 0 {
					c.add(service, f, "must be a latency above 0, such as 300ms")
				}
				a.TargetP95 = d
			}
		case "cpu":
			a.TargetCPU = parseShare(c, service, f, v, "of a replica's CPU limit (or of one core)", "70%")
		default:
			c.add(service, f, unknownKey(k, targetKeys))
		}
	}
}

func parseSchedule(c *collector, service, field string, v any) Schedule {
	var s Schedule
	m, ok := parseMapping(c, service, field, v, scheduleKeys)
	if !ok {
		return s
	}
	s.Min, s.Max = -1, -1
	for _, k := range sortedKeys(m) {
		v, f := m[k], field+"."+k
		switch k {
		case "cron", "timezone":
			str, ok := v.(string)
			if !ok {
				c.add(service, f, fmt.Sprintf("must be a string, got %s", describe(v)))
				continue
			}
			if k == "cron" {
				s.Cron = str
			} else {
				s.Timezone = str
			}
		case "min", "max", "replicas":
			n, ok := parseInt(c, service, f, v)
			if !ok {
				continue
			}
			switch k {
			case "min":
				s.Min = n
			case "max":
				s.Max = n
			default:
				s.Replicas = n
			}
		default:
			c.add(service, f, unknownKey(k, scheduleKeys))
		}
	}
	if s.Cron == "" {
		c.add(service, field+".cron", "required: when the schedule applies, e.g. \"0 10 * * *\"")
	} else if _, err := ParseCron(s.Cron, s.Timezone); err != nil {
		c.add(service, field, err.Error())
	}
	if s.Min < 0 || s.Max < 0 {
		c.add(service, field, "needs min and max: the bounds in force from that time")
	}
	return s
}

// parseShare reads a share such as "50%" or 0.5.
func parseShare(c *collector, service, field string, v any, of, example string) float64 {
	n, ok := parseNumber(v)
	if str, isStr := v.(string); isStr {
		if p, cut := strings.CutSuffix(strings.TrimSpace(str), "%"); cut {
			f, err := strconv.ParseFloat(p, 64)
			n, ok = f/100, err == nil
		}
	}
	if !ok || n <= 0 || n > 1 {
		c.add(service, field, fmt.Sprintf("must be a share %s above 0 and at most 100%%, such as %q, got %s", of, example, describe(v)))
		return DefaultScaleInStep
	}
	return n
}

// parseNumber reads a number, also from a string.
func parseNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

// validateAutoscale checks a service's autoscale settings as a whole.
func validateAutoscale(c *collector, s *Service) {
	a := s.Autoscale
	if a == nil {
		return
	}
	f := ExtensionKey + ".autoscale"
	switch {
	case s.Stateful:
		c.add(s.Name, f, "a stateful service runs one container (x-berth.stateful): it cannot be scaled")
	case len(s.Ports) > 0:
		c.add(s.Name, f, "a service with published ports: cannot be scaled yet (its listener does not move): remove ports: or autoscale")
	case strings.HasPrefix(s.NetworkMode, "service:"):
		c.add(s.Name, f, "a service in another's network namespace (network_mode: "+s.NetworkMode+") cannot be scaled alone")
	case s.ContainerName != "":
		c.add(s.Name, f, "container_name names one container: remove it to autoscale")
	}
	floor := 0
	if s.Routed() {
		floor = 1
	}
	if a.Min < floor {
		c.add(s.Name, f+".min", fmt.Sprintf("must be at least %d, got %d", floor, a.Min))
	}
	if a.Max < max(a.Min, 1) || a.Max > MaxAutoscale {
		c.add(s.Name, f+".max", fmt.Sprintf("must be between min (%d) and %d, got %d", a.Min, MaxAutoscale, a.Max))
	}
	if a.TargetRPS == 0 && a.TargetInFlight == 0 && a.TargetP95 == 0 && a.TargetCPU == 0 {
		c.add(s.Name, f+".target", "required: the load per replica to aim at, e.g. target: { rps: 50 } (or in_flight, p95, cpu)")
	} else if !s.Routed() && (a.TargetRPS != 0 || a.TargetInFlight != 0 || a.TargetP95 != 0) {
		c.add(s.Name, f+".target", "rps, in_flight and p95 need x-berth.hosts: the proxy measures the load of routed services only (a worker can aim at cpu)")
	}
	if a.ScaleOutWindow <= 0 {
		c.add(s.Name, f+".scale_out_window", "must be above 0, e.g. 15s")
	}
	for i, sc := range a.Schedules {
		if sc.Min >= 0 && sc.Max >= 0 && (sc.Min < floor || sc.Max < max(sc.Min, 1) || sc.Max > MaxAutoscale) {
			c.add(s.Name, fmt.Sprintf("%s.schedules[%d]", f, i), fmt.Sprintf("min %d and max %d: need %d ≤ min ≤ max ≤ %d", sc.Min, sc.Max, floor, MaxAutoscale))
		}
		if sc.Replicas != 0 && (sc.Replicas < sc.Min || sc.Replicas > sc.Max) {
			c.add(s.Name, fmt.Sprintf("%s.schedules[%d].replicas", f, i), fmt.Sprintf("must be between the schedule's min (%d) and max (%d), got %d", sc.Min, sc.Max, sc.Replicas))
		}
	}
	if a.Min >= 0 && a.Max >= a.Min && (s.Replicas < a.Min || s.Replicas > a.Max) {
		c.add(s.Name, "deploy.replicas", fmt.Sprintf("%d is outside x-berth.autoscale's min %d and max %d: a deploy starts that many; set it within them", s.Replicas, a.Min, a.Max))
	}
}
