package daemon

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

// The failpoint is inert unless set, and a value it does not know stops
// the server with the one it does, rather than being ignored.
func TestFailpoint_InertUnlessSetRefusedWhenUnknown(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv(EnvFailpoint, "")
	if hook, err := failpoint(log); hook != nil || err != nil {
		t.Errorf("unset: hook %v, err %v; want none", hook != nil, err)
	}
	t.Setenv(EnvFailpoint, FailpointAfterLiveCommit)
	if hook, err := failpoint(log); hook == nil || err != nil {
		t.Errorf("%s: hook %v, err %v; want the hook", FailpointAfterLiveCommit, hook != nil, err)
	}
	t.Setenv(EnvFailpoint, "after-live-comit")
	hook, err := failpoint(log)
	if hook != nil || err == nil || !strings.Contains(err.Error(), FailpointAfterLiveCommit) || !strings.Contains(err.Error(), "unset") {
		t.Errorf("a typo: hook %v, err %v; want a refusal naming %s and what to do", hook != nil, err, FailpointAfterLiveCommit)
	}
}
