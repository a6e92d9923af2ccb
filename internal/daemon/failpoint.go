package daemon

import (
	"fmt"
	"log/slog"
	"os"
)

// EnvFailpoint names a test hook, never set in use: with
// BERTH_FAILPOINT=after-live-commit the server kills itself with SIGKILL
// right after the store transaction that makes a release live (a
// deploy's, rollback's or promotion's commit point), before its routes
// switch and its containers get their restart policies. The crash tests
// (internal/e2e) use it to hit that instant every time instead of by
// chance. Unset, it costs one nil check per release; any other value
// refuses to start, so a typo is not a silently ignored hook.
const EnvFailpoint = "BERTH_FAILPOINT"

// FailpointAfterLiveCommit is EnvFailpoint's one value.
const FailpointAfterLiveCommit = "after-live-commit"

// failpoint returns the hook EnvFailpoint asks for (nil when unset).
func failpoint(log *slog.Logger) (func(), error) {
	switch v := os.Getenv(EnvFailpoint); v {
	case "":
		return nil, nil
	case FailpointAfterLiveCommit:
		log.Warn("test hook set: this server kills itself right after the next live commit", "failpoint", v)
		return killSelf, nil
	default:
		return nil, fmt.Errorf("%s=%q: the one failpoint is %s (a test hook that kills the server at a release's commit point); unset %s", EnvFailpoint, v, FailpointAfterLiveCommit, EnvFailpoint)
	}
}

// killSelf sends the process SIGKILL and blocks until it lands, so that
// nothing after the commit point runs.
func killSelf() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill()
	}
	select {}
}
