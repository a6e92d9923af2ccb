package engine

import "github.com/distribution/reference"

// CredentialLookup finds stored credentials for a registry server.
type CredentialLookup func(server string) (username, password string, err error)

// RegistryOf is the registry host[:port] an image reference lives in
// ("docker.io" for unqualified names), or "" for an invalid reference.
func RegistryOf(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	return reference.Domain(named)
}

// AuthFor returns the credentials lookup has for ref's registry, or nil.
func AuthFor(ref string, lookup CredentialLookup) *RegistryAuth {
	server := RegistryOf(ref)
	if server == "" || lookup == nil {
		return nil
	}
	user, pass, err := lookup(server)
	if err != nil {
		return nil
	}
	return &RegistryAuth{Server: server, Username: user, Password: pass}
}
