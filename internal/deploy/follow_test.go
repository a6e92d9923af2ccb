package deploy

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/store"
)

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A watcher of a running deployment gets every line from the one it
// asks for, those said before the deployment was recorded included, is
// woken at each new line, and learns when the deployment ends; lines
// carry the deployment's id once it is recorded. Nothing is followed
// after the end, nor a deployment that is not running.
func TestFollowDeployment_LinesWakeAndEnd(t *testing.T) {
	t.Parallel()
	d := New(Options{})
	unlock, err := d.tryLock("shop", "production", store.KindDeploy)
	if err != nil {
		t.Fatal(err)
	}
	var got []Progress
	tr := newTracker(time.Now, func(p Progress) { got = append(got, p) })
	tr.say("deploying shop to production")
	if _, _, _, ok := d.FollowDeployment(7, 0); ok {
		t.Fatal("followed before it was recorded")
	}
	d.setRunningID("shop", "production", 7, tr)
	tr.say("release %d created (deployment %d)", 3, 7)
	lines, more, done, ok := d.FollowDeployment(7, 0)
	if !ok || len(lines) != 2 || lines[0].Message != "deploying shop to production" || lines[1].Deployment != 7 {
		t.Fatalf("follow from 0: %+v %v", lines, ok)
	}
	if got[0].Deployment != 0 || got[1].Deployment != 7 {
		t.Errorf("the lines as said: %+v", got)
	}
	if isClosed(more) || isClosed(done) {
		t.Fatal("woken before anything happened")
	}
	tr.say("switched web to release 3")
	if !isClosed(more) {
		t.Fatal("not woken by a new line")
	}
	lines, more, _, _ = d.FollowDeployment(7, 2)
	if len(lines) != 1 || lines[0].Message != "switched web to release 3" {
		t.Errorf("follow from 2: %+v", lines)
	}
	unlock()
	if !isClosed(done) || isClosed(more) {
		t.Error("the end was not told, or told as a line")
	}
	if _, _, _, ok := d.FollowDeployment(7, 0); ok {
		t.Error("followed after its end")
	}
}
