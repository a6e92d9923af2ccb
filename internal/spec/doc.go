// Package spec reads an app definition — a Compose file, optional override
// files and the berth-specific x-berth extensions — and turns it into a
// normalised, validated [App].
//
// Parsing is done by the official compose-go library; spec adds berth's
// rules on top of it and fills in every default, so that no other package
// has to know about Compose or about defaults.
//
// Invariants:
//   - The package is pure: [Load] reads the Compose files it is given (plus
//     a .env file and env_file entries next to them, as Compose does, and
//     the files of bind mounts inside the project directory) and nothing
//     else; it never reads the process environment, talks to Docker
//     or the network. Variables for ${VAR} interpolation come only from
//     [LoadOptions.Environ] and the .env file.
//   - An [App] returned by [Load] without error passes [App.Validate]; its
//     services and volumes are sorted by name and every default (replicas,
//     health check, drain timeout, stop grace period) is filled in, so the
//     JSON form of an App is deterministic and is stored as-is in releases.
//     The exception is the client limits (x-berth.max_body_size,
//     body_timeout, write_timeout): left out, they stay nil, for the
//     server's defaults, which a file cannot know; 0 turns one off.
//   - The app name follows docker compose's precedence for a project name:
//     [LoadOptions.Name] (-p), else COMPOSE_PROJECT_NAME (Environ or .env),
//     else the top-level `name:`, else [LoadOptions.DefaultName], else the
//     working directory's name made valid by [DeriveName]. A name that is
//     given (flag, variable, name:) is checked, never rewritten; only the
//     directory's name is cleaned up.
//   - Named volume sources are the keys of the top-level volumes, as
//     declared (not prefixed with the project name); bind sources are
//     absolute; an anonymous volume has no source. A bind source inside
//     the project directory is a project bind: [Load] reads and hashes its
//     files (bounded by [MaxBindBytes]) so that they can be sent with the
//     deploy, and refuses a missing one (binds.go). A [Volume] keeps a
//     name only when the file gives one (name:, or an external volume's
//     key): compose-go's project_key default is dropped, since berth
//     scopes volumes by app and environment.
//   - Routing intent (intent*.go): a service x-berth does not route is
//     routed from its ports:/expose:, nginx-proxy environment or Traefik
//     labels when they say how, at [DefaultHost] unless they name hosts;
//     x-berth always wins. Each decision is in [Service.Intent] and
//     [App.Notes], which are not stored, so they never change a stored
//     definition's JSON; only Port, Hosts, Paths, StripPrefix,
//     RedirectHTTPS and Healthcheck carry the route, as x-berth's would.
//   - Every user-facing problem is reported as an [*Error] naming the file,
//     the service and the field, and all problems found are returned at
//     once as [Errors], sorted, one per line.
package spec
