package daemon

import (
	"testing"

	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/notify"
)

// The healer's alerts reach the notifier under notify's kinds, which
// name them in Slack.
func TestHealAlerts_UseNotifyKinds(t *testing.T) {
	if deploy.EventReplaceFailed != notify.ReplaceFailed || deploy.EventAllFailing != notify.AllFailing {
		t.Fatalf("deploy's alert kinds %q, %q differ from notify's %q, %q",
			deploy.EventReplaceFailed, deploy.EventAllFailing, notify.ReplaceFailed, notify.AllFailing)
	}
	if notify.Label(notify.ReplaceFailed) == notify.ReplaceFailed || notify.Label(notify.AllFailing) == notify.AllFailing {
		t.Fatal("the alert kinds have no label")
	}
}
