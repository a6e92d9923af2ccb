package dto

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

// BuildSecretsHeader carries a build's secrets (BuildKit builds, issue 13
// item 6): base64 of a JSON object id → value (bytes, base64 in JSON).
// Not the URL, which access logs and proxies keep; the store never sees
// them either.
const BuildSecretsHeader = "X-Berth-Build-Secrets"

// maxBuildSecrets bounds the header (the server reads at most 1 MiB of
// headers).
const maxBuildSecrets = 512 << 10

// EncodeBuildSecrets is the header for secrets; nil when there are none.
func EncodeBuildSecrets(secrets map[string][]byte) (http.Header, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(secrets)
	if err != nil {
		return nil, err
	}
	v := base64.StdEncoding.EncodeToString(b)
	if len(v) > maxBuildSecrets {
		return nil, fmt.Errorf("the build's secrets take %d bytes encoded; together they must stay under %d: pass large files in the build context instead", len(v), maxBuildSecrets)
	}
	return http.Header{BuildSecretsHeader: {v}}, nil
}

// DecodeBuildSecrets reads the secrets a request carries.
func DecodeBuildSecrets(h http.Header) (map[string][]byte, error) {
	v := h.Get(BuildSecretsHeader)
	if v == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("read build secrets (%s): %w", BuildSecretsHeader, err)
	}
	var m map[string][]byte
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read build secrets (%s): %w", BuildSecretsHeader, err)
	}
	return m, nil
}
