package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/dto"
)

func TestParseScaleArgs(t *testing.T) {
	got, err := parseScaleArgs([]string{"web=3", "worker=0"})
	if err != nil || !slices.Equal(got, []dto.ScaleTarget{{Service: "web", Replicas: 3}, {Service: "worker", Replicas: 0}}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for arg, want := range map[string]string{
		"web":     "write SERVICE=N",
		"=2":      "write SERVICE=N",
		"web=x":   "whole number",
		"web=-1":  "0 or more",
		"web=2.5": "whole number",
	} {
		if _, err := parseScaleArgs([]string{arg}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", arg, err, want)
		}
	}
	if _, err := parseScaleArgs([]string{"web=1", "web=2"}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("twice: %v", err)
	}
}
