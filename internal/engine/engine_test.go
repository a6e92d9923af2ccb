package engine

import (
	"encoding/json"
	"strings"
	"testing"
)

// A cluster backend hashes the spec it applied and updates a service
// whose hash changed, so fields added for Compose networks must leave the
// JSON of a spec that sets none of them as it was.
func TestContainerSpec_NetworkFieldsOmittedWhenUnset(t *testing.T) {
	b, err := json.Marshal(WorkloadSpec{
		Template: ContainerSpec{Name: "web", Network: "berth-app-prod", Aliases: []string{"web"}},
		Networks: []NetworkAttachment{{Name: "berth-app-prod", Aliases: []string{"web"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"NetworkMode", "Endpoint", `"Networks":null`, "IPv4Address", "IPv6Address", "LinkLocalIPs", "DriverOpts", "MacAddress"} {
		if strings.Contains(string(b), k) {
			t.Errorf("spec JSON has %s though it is unset: %s", k, b)
		}
	}
}
