package spec

import (
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/go-connections/nat"
)

// convertService turns one compose-go service into a Service with every
// default filled in. missing holds the services that have no image (true:
// they have build:).
func convertService(c *collector, sc types.ServiceConfig, missing map[string]bool) Service {
	s := Service{
		Name:            sc.Name,
		Image:           sc.Image,
		Entrypoint:      []string(sc.Entrypoint),
		Command:         []string(sc.Command),
		WorkingDir:      sc.WorkingDir,
		User:            sc.User,
		StopSignal:      sc.StopSignal,
		StopGracePeriod: Duration(DefaultStopGracePeriod),
		Replicas:        1,
		ContainerName:   sc.ContainerName,
	}
	if build, ok := missing[sc.Name]; ok {
		s.Image = ""
		if build {
			c.suppress(s.Name, "image") // built and tagged by berth
		}
	}
	if b := sc.Build; b != nil {
		s.Build = &Build{Context: b.Context, Dockerfile: b.Dockerfile, Target: b.Target}
		for k, v := range b.Args {
			if v != nil {
				if s.Build.Args == nil {
					s.Build.Args = map[string]string{}
				}
				s.Build.Args[k] = *v
			}
		}
	}
	if len(sc.Environment) > 0 {
		s.Environment = map[string]string{}
		for k, v := range sc.Environment {
			// A variable listed without a value and not set anywhere is
			// left unset in the container, as Compose does.
			if v != nil {
				s.Environment[k] = *v
			}
		}
	}
	if len(sc.Labels) > 0 {
		s.Labels = maps.Clone(map[string]string(sc.Labels))
	}
	if sc.StopGracePeriod != nil {
		s.StopGracePeriod = Duration(*sc.StopGracePeriod)
	}
	if sc.Scale != nil {
		s.Replicas = *sc.Scale
	}
	if d := sc.Deploy; d != nil {
		if d.Replicas != nil {
			s.Replicas = *d.Replicas
		}
		if l := d.Resources.Limits; l != nil {
			s.MemoryBytes = int64(l.MemoryBytes)
			s.NanoCPUs = nanoCPUs(l.NanoCPUs)
		}
		convertRollout(c, &s, d)
		checkDeployLabels(c, s.Name, d.Labels)
	}
	if len(sc.DependsOn) > 0 {
		s.DependsOn = map[string]string{}
		for name, dep := range sc.DependsOn {
			cond := dep.Condition
			if cond == "" {
				cond = types.ServiceConditionStarted
			}
			s.DependsOn[name] = cond
		}
	}
	if hc := sc.HealthCheck; hc != nil && !hc.Disable && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
		s.Check = &Check{Test: []string(hc.Test)}
		if hc.Interval != nil {
			s.Check.Interval = Duration(*hc.Interval)
		}
		if hc.Timeout != nil {
			s.Check.Timeout = Duration(*hc.Timeout)
		}
		if hc.StartPeriod != nil {
			s.Check.StartPeriod = Duration(*hc.StartPeriod)
		}
		if hc.Retries != nil {
			s.Check.Retries = int(*hc.Retries)
		}
	}
	for i, v := range sc.Volumes {
		// Types other than volume, bind and tmpfs are reported by validateMounts.
		s.Volumes = append(s.Volumes, convertMount(c, s.Name, i, v))
	}
	convertContainer(c, &s, sc)
	if len(sc.Expose) > 0 {
		exposed, _, err := nat.ParsePortSpecs(sc.Expose)
		if err != nil {
			c.add(s.Name, "expose", fmt.Sprintf("%v: write container ports such as 3000, 3000/tcp, 53/udp or 8000-8005", err))
		}
		for p := range exposed {
			s.Expose = append(s.Expose, string(p))
		}
		sort.Strings(s.Expose)
	}
	convertPorts(c, &s, sc.Ports)
	applyDefaults(&s)
	parseXBerth(c, &s, sc.Extensions[ExtensionKey])
	return s
}

// nanoCPUs converts Compose's cpus (a float32) to billionths of a CPU,
// going through the shortest decimal form so that 0.1 is 100000000.
func nanoCPUs(n types.NanoCPUs) int64 {
	f, err := strconv.ParseFloat(strconv.FormatFloat(float64(n), 'g', -1, 32), 64)
	if err != nil {
		return 0
	}
	return int64(math.Round(f * 1e9))
}
