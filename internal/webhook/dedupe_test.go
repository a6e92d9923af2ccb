package webhook

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestDeduper_ReplayIsSeen(t *testing.T) {
	c := &clock{t: time.Date(2024, 11, 14, 10, 0, 0, 0, time.UTC)}
	d := NewDeduper(100, time.Hour, c.now)
	if d.Seen("72d3162e") {
		t.Fatal("first delivery reported as seen")
	}
	c.add(59 * time.Minute)
	if !d.Seen("72d3162e") {
		t.Fatal("redelivery within the window not seen")
	}
	if d.Seen("") || d.Seen("") {
		t.Fatal("an empty delivery ID is deduplicated")
	}
	c.add(time.Minute)
	if d.Seen("72d3162e") {
		t.Fatal("a delivery older than the window is still remembered")
	}
}

func TestDeduper_BoundedOldestGoFirst(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	d := NewDeduper(3, time.Hour, c.now)
	for _, id := range []string{"a", "b", "c", "d"} {
		d.Seen(id)
		c.add(time.Second)
	}
	if d.Len() != 3 {
		t.Fatalf("holds %d IDs, want 3", d.Len())
	}
	if d.Seen("b") != true || d.Seen("a") != false {
		t.Fatal("the oldest ID was not the one dropped")
	}
}

func TestDeduper_ForgetAcceptsARetry(t *testing.T) {
	d := NewDeduper(0, 0, nil)
	d.Seen("x")
	d.Forget("x")
	d.Forget("never-seen")
	if d.Seen("x") {
		t.Fatal("a forgotten ID is still seen")
	}
}

func TestDeduper_ConcurrentDeliveriesBuildOnce(t *testing.T) {
	d := NewDeduper(1000, time.Hour, nil)
	var mu sync.Mutex
	fresh := map[string]int{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				id := fmt.Sprint(i)
				if !d.Seen(id) {
					mu.Lock()
					fresh[id]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for id, n := range fresh {
		if n != 1 {
			t.Fatalf("delivery %s accepted %d times", id, n)
		}
	}
	if len(fresh) != 200 {
		t.Fatalf("%d deliveries accepted, want 200", len(fresh))
	}
}
