package store

import (
	"testing"
	"time"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Changed's channel is closed by the next committed write, not by a
// read or a write that fails; each wait gets the writes after it.
func TestStore_ChangedClosesOnTheNextWrite(t *testing.T) {
	t.Parallel()
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ch := st.Changed()
	if closed(ch) {
		t.Fatal("closed before any write")
	}
	if _, err := st.ListApps(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateDeployment(Deployment{App: "", Env: "production"}); err == nil {
		t.Fatal("a deployment without an app was stored")
	}
	if err := st.AppendEvent("nope", "production", Event{Kind: "died"}); err == nil {
		t.Fatal("an event of no app was stored")
	}
	if closed(ch) {
		t.Fatal("closed by a read or a failed write")
	}
	if err := st.EnsureEnv("shop", "production"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("not closed by a write")
	}
	next := st.Changed()
	if closed(next) {
		t.Fatal("a new wait sees the write before it")
	}
	if _, err := st.CreateDeployment(Deployment{App: "shop", Env: "production"}); err != nil {
		t.Fatal(err)
	}
	if !closed(next) {
		t.Fatal("not closed by the second write")
	}
}
