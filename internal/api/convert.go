package api

import (
	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/build"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/store"
)

// The edge between the server's types and the wire's (package dto): each
// response is converted from the store's or the deployer's type, each
// request body to the deployer's options, here and nowhere else.
// convert_test.go fails when a source type gains a field that is not
// carried across.

// each converts a slice, keeping nil nil (null in JSON) and empty empty.
func each[S, D any](in []S, f func(S) D) []D {
	if in == nil {
		return nil
	}
	out := make([]D, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// ptr converts what p points to; nil stays nil.
func ptr[S, D any](p *S, f func(S) D) *D {
	if p == nil {
		return nil
	}
	d := f(*p)
	return &d
}

func releaseDTO(r store.Release) dto.Release {
	var svcs map[string]dto.ServiceImage
	if r.Services != nil {
		svcs = make(map[string]dto.ServiceImage, len(r.Services))
		for name, si := range r.Services {
			svcs[name] = dto.ServiceImage{Image: si.Image, ImageID: si.ImageID}
		}
	}
	// SecretFiles is not carried: it is the content of Compose secrets,
	// never part of a release's JSON (and empty when read back).
	return dto.Release{
		ID: r.ID, App: r.App, Env: r.Env, Services: svcs, Spec: r.Spec,
		CreatedAt: r.CreatedAt, Status: dto.ReleaseStatus(r.Status), Reason: r.Reason,
		LiveAt: r.LiveAt, EndedAt: r.EndedAt, Config: r.Config, SecretNames: r.SecretNames,
		Refused: r.Refused, RemovedAt: r.RemovedAt, CreatedBy: r.CreatedBy,
	}
}

func stepDTO(s store.Step) dto.Step {
	return dto.Step{At: s.At, Elapsed: s.Elapsed, Message: s.Message}
}

func deploymentDTO(d store.Deployment) dto.Deployment {
	return dto.Deployment{
		ID: d.ID, App: d.App, Env: d.Env, Kind: dto.DeploymentKind(d.Kind), CreatedBy: d.CreatedBy,
		ReleaseID: d.ReleaseID, FromReleaseID: d.FromReleaseID, Status: dto.DeploymentStatus(d.Status),
		Error: d.Error, StartedAt: d.StartedAt, EndedAt: d.EndedAt,
		Served: d.Served, Failed: d.Failed, Counted: d.Counted, Timeline: each(d.Timeline, stepDTO),
		Connections: d.Connections, ConnectionsFailed: d.ConnectionsFailed,
		ConnectionsCut: d.ConnectionsCut, ConnectionsCounted: d.ConnectionsCounted,
		LongOpen: d.LongOpen, LongFinished: d.LongFinished, LongClosed: d.LongClosed,
		Scaled: each(d.Scaled, func(c store.ScaleChange) dto.ScaleChange {
			return dto.ScaleChange{Service: c.Service, From: c.From, To: c.To}
		}),
	}
}

func progressDTO(p deploy.Progress) dto.Progress {
	return dto.Progress{Time: p.Time, Elapsed: p.Elapsed, Message: p.Message, Deployment: p.Deployment}
}

func envStatusDTO(st deploy.EnvStatus) dto.EnvStatus {
	return dto.EnvStatus{
		App: st.App, Env: st.Env, Live: ptr(st.Live, releaseDTO), Deploying: st.Deploying,
		Services: each(st.Services, serviceStatusDTO), Last: ptr(st.Last, deploymentDTO),
		ImageBytes: st.ImageBytes, Maintenance: st.Maintenance,
		Canary: ptr(st.Canary, canaryStatusDTO), Shares: each(st.Shares, shareDTO),
		RemovedAt: st.RemovedAt, Draining: each(st.Draining, drainStatusDTO), P99: st.P99,
	}
}

func drainStatusDTO(d deploy.DrainStatus) dto.DrainStatus {
	return dto.DrainStatus{Service: d.Service, Release: d.Release, Canary: d.Canary, Since: d.Since, Deadline: d.Deadline, InFlight: d.InFlight}
}

func serviceStatusDTO(s deploy.ServiceStatus) dto.ServiceStatus {
	out := dto.ServiceStatus{
		Name: s.Name, Hosts: s.Hosts, Replicas: s.Replicas, Healthy: s.Healthy, Replacing: s.Replacing, Healing: s.Healing,
		Containers: each(s.Containers, containerStatusDTO), Published: each(s.Published, publishedStatusDTO),
	}
	if sc := s.Scale; sc != nil {
		out.Scale = &dto.Scale{Service: sc.Service, Replicas: sc.Replicas, File: sc.File, From: sc.From, By: sc.By, At: sc.At}
	}
	return out
}

func containerStatusDTO(c deploy.ContainerStatus) dto.ContainerStatus {
	return dto.ContainerStatus{
		ID: c.ID, Name: c.Name, Release: c.Release, State: c.State, Health: c.Health,
		HealthError: c.HealthError, Address: c.Address, StartedAt: c.StartedAt, ExitCode: c.ExitCode,
		OOMKilled: c.OOMKilled, RestartCount: c.RestartCount, Leaving: c.Leaving, InFlight: c.InFlight, Served: c.Served,
		RPS: c.RPS, ErrorRate: c.ErrorRate,
	}
}

func publishedStatusDTO(p deploy.PublishedStatus) dto.PublishedStatus {
	return dto.PublishedStatus{Port: p.Port, Addr: p.Addr, Direct: p.Direct, Served: p.Served, Open: p.Open}
}

func canaryStatusDTO(c deploy.CanaryStatus) dto.CanaryStatus {
	return dto.CanaryStatus{
		Release: releaseDTO(c.Release), Weight: c.Weight, StartedAt: c.StartedAt,
		Healthy: c.Healthy, Unhealthy: c.Unhealthy, UnhealthySince: c.UnhealthySince,
	}
}

func shareDTO(s deploy.Share) dto.Share {
	return dto.Share{Release: s.Release, Role: s.Role, Percent: s.Percent}
}

func volumeDTO(v deploy.VolumeStatus) dto.Volume {
	return dto.Volume{Name: v.Name, EngineName: v.EngineName, External: v.External, Size: v.Size, UsedBy: v.UsedBy}
}

func eventDTO(e store.Event) dto.Event {
	return dto.Event{ID: e.ID, Time: e.Time, Kind: e.Kind, Service: e.Service, Container: e.Container, Release: e.Release, Message: e.Message}
}

func pruneReportDTO(r deploy.PruneReport) dto.PruneReport {
	return dto.PruneReport{
		Images: r.Images, Containers: r.Containers, FreedBytes: r.FreedBytes, Binds: r.Binds,
		FailedReleases: r.FailedReleases, BuildCacheBytes: r.BuildCacheBytes, Backups: r.Backups,
	}
}

func registryDTO(r store.Registry) dto.Registry {
	return dto.Registry{Server: r.Server, Username: r.Username}
}

func nodeDTO(n deploy.Node) dto.Node {
	return dto.Node{
		ID: n.ID, Hostname: n.Hostname, Role: n.Role, Leader: n.Leader, Availability: n.Availability,
		State: n.State, EngineVersion: n.EngineVersion, Addr: n.Addr, Labels: n.Labels,
		NanoCPUs: n.NanoCPUs, MemoryBytes: n.MemoryBytes, ReservedCPUs: n.ReservedCPUs,
		ReservedMem: n.ReservedMem, Tasks: n.Tasks,
	}
}

func nodeChangeDTO(c deploy.NodeChange) dto.NodeChange {
	return dto.NodeChange{Node: c.Node, Availability: c.Availability, Took: c.Took, Moved: c.Moved, Remaining: c.Remaining}
}

func notifyTargetDTO(t store.NotifyTarget) dto.NotifyTarget {
	return dto.NotifyTarget{Kind: t.Kind, URL: t.URL}
}

func buildDTO(b store.Build) dto.Build {
	return dto.Build{
		ID: b.ID, App: b.App, Env: b.Env, Branch: b.Branch, Commit: b.Commit, Author: b.Author,
		Message: b.Message, Status: dto.BuildStatus(b.Status), Error: b.Error, Log: b.Log,
		Steps: each(b.Steps, stepDTO), DeploymentID: b.DeploymentID,
		CreatedAt: b.CreatedAt, StartedAt: b.StartedAt, EndedAt: b.EndedAt, Actor: b.Actor,
	}
}

// Requests: the wire's bodies to the deployer's and builder's options.

func deployOptions(o dto.DeployOptions) deploy.DeployOptions {
	return deploy.DeployOptions{ReplaceStateful: o.ReplaceStateful, Canary: o.Canary}
}

func cloneOptions(r dto.CloneRequest) deploy.CloneOptions {
	return deploy.CloneOptions{Hosts: r.Hosts}
}

func removeOptions(r dto.RemoveRequest) deploy.RemoveOptions {
	return deploy.RemoveOptions{Volumes: r.Volumes}
}

func notifyTarget(t dto.NotifyTarget) store.NotifyTarget {
	return store.NotifyTarget{Kind: t.Kind, URL: t.URL}
}

func buildRequest(r dto.BuildRequest) build.Request {
	return build.Request{
		App: r.App, Service: r.Service, Tag: r.Tag, Dockerfile: r.Dockerfile, Target: r.Target,
		Args: r.Args, Test: r.Test, Revision: r.Revision, Container: r.Container,
		Options: build.Options{
			DockerfileInline: r.DockerfileInline, Labels: r.Labels, Network: r.Network,
			ExtraHosts: r.ExtraHosts, NoCache: r.NoCache, Pull: r.Pull, Secrets: r.Secrets,
		},
	}
}

func tokenDTO(t store.Token) dto.Token {
	return dto.Token{
		Name: t.Name, Role: t.Role, Apps: t.Apps, Envs: t.Envs, CreatedAt: t.CreatedAt,
		ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsedAt, LastUsedFrom: t.LastUsedFrom,
	}
}

func auditDTO(e store.AuditEntry) dto.AuditEntry {
	return dto.AuditEntry{
		Seq: e.Seq, Time: e.Time, Actor: e.Actor, Source: e.Source, Action: e.Action, App: e.App, Env: e.Env,
		Params: e.Params, Outcome: e.Outcome, Status: e.Status, Error: e.Error, Deployment: e.Deployment, Build: e.Build,
	}
}

func userDTO(u store.User) dto.User {
	return dto.User{
		Name: u.Name, Role: u.Role, Apps: u.Apps, Envs: u.Envs, CreatedAt: u.CreatedAt,
		LastSignInAt: u.LastSignInAt, LastSignInFrom: u.LastSignInFrom,
	}
}

func sessionDTO(s store.Session) dto.Session {
	return dto.Session{ID: s.ID, User: s.User, Token: s.Token, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt, From: s.From}
}
