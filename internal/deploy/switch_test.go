package deploy

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
	"github.com/berth-dev/berth/internal/spec"
)

// x-berth's client limits reach the proxy in its form: unset takes the
// server's default (0), the user's 0 means none (negative), a value is
// itself.
func TestRouteOptions_ClientLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		svc  spec.Service
		want proxy.RouteOptions
	}{
		{"unset", spec.Service{}, proxy.RouteOptions{}},
		{"zero is none", spec.Service{MaxBodyBytes: new(int64(0)), BodyTimeout: new(spec.Duration(0)), WriteTimeout: new(spec.Duration(0))},
			proxy.RouteOptions{MaxBodyBytes: -1, BodyTimeout: -1, WriteTimeout: -1}},
		{"values", spec.Service{MaxBodyBytes: new(int64(10 << 20)), BodyTimeout: new(spec.Duration(5 * time.Minute)), WriteTimeout: new(spec.Duration(90 * time.Second))},
			proxy.RouteOptions{MaxBodyBytes: 10 << 20, BodyTimeout: 5 * time.Minute, WriteTimeout: 90 * time.Second}},
		{"one set", spec.Service{WriteTimeout: new(spec.Duration(0))}, proxy.RouteOptions{WriteTimeout: -1}},
	} {
		got := routeOptions(tc.svc)
		if got.MaxBodyBytes != tc.want.MaxBodyBytes || got.BodyTimeout != tc.want.BodyTimeout || got.WriteTimeout != tc.want.WriteTimeout {
			t.Errorf("%s: max body %d, body timeout %s, write timeout %s; want %d, %s, %s", tc.name,
				got.MaxBodyBytes, got.BodyTimeout, got.WriteTimeout, tc.want.MaxBodyBytes, tc.want.BodyTimeout, tc.want.WriteTimeout)
		}
		if !got.Equal(tc.want) {
			t.Errorf("%s: %+v is not Equal to %+v", tc.name, got, tc.want)
		}
	}
}
