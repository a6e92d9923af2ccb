package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

func TestCanaryBucket_Deterministic(t *testing.T) {
	// Fixed values: the split must not change between processes or
	// versions of berth, or clients would switch releases on a restart.
	for id, want := range map[string]uint32{"a": 8315, "0123456789abcdef": 2966} {
		for range 3 {
			if got := canaryBucket(id); got != want {
				t.Fatalf("bucket of %q: %d then %d", id, want, got)
			}
		}
	}
	if canaryBucket("client-1") == canaryBucket("client-2") && canaryBucket("client-2") == canaryBucket("client-3") {
		t.Fatal("neighbouring ids hash to one bucket")
	}
	for _, id := range []string{"", "x", strings.Repeat("z", 64)} {
		if b := canaryBucket(id); b >= canaryBuckets {
			t.Fatalf("bucket of %q = %d, out of range", id, b)
		}
	}
}

func TestCanary_WeightWithinThreePointsOver2000Clients(t *testing.T) {
	// Ids as canaryClient makes them (16 hex digits of a random number),
	// from a seeded generator so that the test gives the same figures on
	// every run.
	rng := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func(i int) string{
		"sequential": func(i int) string { return fmt.Sprintf("client-%d", i) },
		"random":     func(int) string { return fmt.Sprintf("%016x", rng.Uint64()) },
	}
	for name, gen := range gens {
		for _, weight := range []uint32{1, 5, 10, 25, 50, 90, 99} {
			in := 0
			for i := range 2000 {
				if inCanary(gen(i), weight) {
					in++
				}
			}
			share := float64(in) * 100 / 2000
			if math.Abs(share-float64(weight)) > 3 {
				t.Errorf("%s ids, weight %d: canary got %.1f%% of 2,000 clients", name, weight, share)
			}
		}
	}
	if inCanary("anything", 0) || !inCanary("anything", 100) {
		t.Error("weight 0 must send nobody, 100 everybody")
	}
}

func TestCanary_RaisingTheWeightOnlyMovesClientsToTheCanary(t *testing.T) {
	for i := range 2000 {
		id := fmt.Sprintf("c%d", i)
		was := false
		for w := uint32(0); w <= 100; w += 5 {
			now := inCanary(id, w)
			if was && !now {
				t.Fatalf("client %s left the canary when the weight rose to %d", id, w)
			}
			was = now
		}
	}
}

func TestCookieValue_FindsTheCanaryCookieAmongOthers(t *testing.T) {
	cases := map[string]string{
		"berth_canary=abc":                        "abc",
		"a=1; berth_canary=abc; b=2":              "abc",
		"a=1;berth_canary=\"abc\"":                "abc",
		"berth_canary_x=no; x=berth_canary":       "",
		"":                                        "",
		"session=s; theme=dark":                   "",
		"  berth_canary=with-space-before ; z=9 ": "with-space-before",
	}
	for line, want := range cases {
		h := http.Header{"Cookie": {line}}
		if got := cookieValue(h, CanaryCookie); got != want {
			t.Errorf("%q: got %q, want %q", line, got, want)
		}
	}
	h := http.Header{"Cookie": {"a=1", "berth_canary=second-line"}}
	if got := cookieValue(h, CanaryCookie); got != "second-line" {
		t.Errorf("second Cookie header: got %q", got)
	}
}

func TestCanary_ChoiceDoesNotAllocateWithTheCookie(t *testing.T) {
	live := &Pool{}
	empty := []*target{}
	live.healthy.Store(&empty)
	canaryPool := &Pool{}
	one := []*target{{}}
	canaryPool.healthy.Store(&one)
	c := &canary{pool: canaryPool, weight: 50}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "session=s; berth_canary=0123456789abcdef; theme=dark")
	w := httptest.NewRecorder()
	allocs := testing.AllocsPerRun(1000, func() {
		_ = c.choose(canaryClient(w, r), live)
	})
	if allocs != 0 {
		t.Fatalf("choosing a slot with the cookie present allocates %.1f times", allocs)
	}
	if len(w.Header()["Set-Cookie"]) != 0 {
		t.Fatal("a client with the cookie got a new one")
	}
}

// canaryRoute routes host to a healthy live pool ("v1") with a healthy
// canary pool ("v2") at weight percent.
func canaryRoute(t *testing.T, weight int) (px *Proxy, srv *httptest.Server, key RouteKey, live, can *Pool, v2 *backend) {
	t.Helper()
	px, srv = newProxyServer(t)
	key = RouteKey{"shop", "production", "web"}
	live = routeTo(t, px, key, []string{"shop.test"}, newBackend(t, "v1", nil))
	v2 = newBackend(t, "v2", nil)
	can = newPool(t, key, "r2", fastHealth(), v2)
	waitHealthy(t, can, 1)
	if _, err := px.SetCanary(key, can, weight); err != nil {
		t.Fatal(err)
	}
	return px, srv, key, live, can, v2
}

// getWithCookie sends GET / to host with the canary cookie (none when id
// is empty) and returns the body and the id of a Set-Cookie.
func getWithCookie(t *testing.T, c *http.Client, url, host, id string) (string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	if id != "" {
		req.AddCookie(&http.Cookie{Name: CanaryCookie, Value: id})
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s %v", resp.StatusCode, b, err)
	}
	set := ""
	for _, ck := range resp.Cookies() {
		if ck.Name == CanaryCookie {
			set = ck.Value
		}
	}
	return string(b), set
}

func TestProxy_CanarySplitIsStickyPerCookie(t *testing.T) {
	_, srv, _, _, _, _ := canaryRoute(t, 10)
	c := srv.Client()
	ids := make([]string, 0, 2000)
	first := map[string]string{}
	canary := 0
	for range 2000 {
		body, id := getWithCookie(t, c, srv.URL, "shop.test", "")
		if id == "" {
			t.Fatal("a client without the cookie got no Set-Cookie")
		}
		ids = append(ids, id)
		first[id] = body
		if body == "v2" {
			canary++
		}
	}
	if share := float64(canary) * 100 / 2000; math.Abs(share-10) > 3 {
		t.Fatalf("canary got %.1f%% of 2,000 new clients, want 10 ± 3", share)
	}
	for _, id := range ids {
		for range 2 {
			body, set := getWithCookie(t, c, srv.URL, "shop.test", id)
			if body != first[id] {
				t.Fatalf("client %s first got %s, then %s", id, first[id], body)
			}
			if set != "" {
				t.Fatalf("client %s with its cookie got a new one", id)
			}
		}
	}
}

func TestProxy_CanaryWithoutHealthyTargetSendsEveryoneToLive(t *testing.T) {
	_, srv, _, _, can, v2 := canaryRoute(t, 50)
	c := srv.Client()
	var inCan []string
	for i := 0; len(inCan) < 20; i++ {
		if id := fmt.Sprintf("client-%d", i); inCanary(id, 50) {
			inCan = append(inCan, id)
		}
	}
	for _, id := range inCan {
		if body, _ := getWithCookie(t, c, srv.URL, "shop.test", id); body != "v2" {
			t.Fatalf("client %s of the canary's share got %s", id, body)
		}
	}
	v2.up.Store(false)
	testutil.Eventually(t, 5*time.Second, "canary unhealthy", func() bool { return can.Healthy() == 0 })
	for _, id := range inCan {
		if body, _ := getWithCookie(t, c, srv.URL, "shop.test", id); body != "v1" {
			t.Fatalf("with no healthy canary target, client %s got %s", id, body)
		}
	}
	v2.up.Store(true)
	waitHealthy(t, can, 1)
	if body, _ := getWithCookie(t, c, srv.URL, "shop.test", inCan[0]); body != "v2" {
		t.Fatalf("canary healthy again: client got %s", body)
	}
}

func TestProxy_PromoteAndRemoveCanary(t *testing.T) {
	px, srv, key, live, can, _ := canaryRoute(t, 10)
	if p, w := px.Canary(key); p != can || w != 10 {
		t.Fatalf("Canary = %v %d", p, w)
	}
	// Another live pool (a converge) keeps the canary.
	live2 := newPool(t, key, "r1", fastHealth(), newBackend(t, "v1b", nil))
	waitHealthy(t, live2, 1)
	old, err := px.SetRoute(key, []string{"shop.test"}, live2)
	if err != nil || old != live {
		t.Fatalf("SetRoute: old %v err %v", old, err)
	}
	live.Drain(context.Background(), time.Second)
	if p, _ := px.Canary(key); p != can {
		t.Fatal("a new live pool dropped the canary")
	}
	// Promotion: the canary's pool becomes the route's pool.
	old, err = px.SetRoute(key, []string{"shop.test"}, can)
	if err != nil || old != live2 {
		t.Fatalf("promote: old %v err %v", old, err)
	}
	if p, _ := px.Canary(key); p != nil {
		t.Fatal("promoted route still has a canary")
	}
	for i := range 50 {
		if body, set := getWithCookie(t, srv.Client(), srv.URL, "shop.test", fmt.Sprintf("c%d", i)); body != "v2" || set != "" {
			t.Fatalf("after promote: %s (set-cookie %q)", body, set)
		}
	}
	if px.RemoveCanary(key) != nil {
		t.Fatal("RemoveCanary without a canary returned a pool")
	}
}

func TestProxy_RemoveCanarySendsItsClientsBackToLive(t *testing.T) {
	px, srv, key, _, can, _ := canaryRoute(t, 100)
	if body, _ := getWithCookie(t, srv.Client(), srv.URL, "shop.test", "x"); body != "v2" {
		t.Fatalf("weight 100: got %s", body)
	}
	if old := px.RemoveCanary(key); old != can {
		t.Fatalf("RemoveCanary returned %v", old)
	}
	can.Drain(context.Background(), time.Second)
	if body, _ := getWithCookie(t, srv.Client(), srv.URL, "shop.test", "x"); body != "v1" {
		t.Fatalf("canary removed: got %s", body)
	}
	if routes := px.Routes(); routes[0].Canary != nil {
		t.Fatal("Routes still lists the canary")
	}
}

func TestProxy_SetCanaryRefusals(t *testing.T) {
	px, _ := newProxyServer(t)
	key := RouteKey{"shop", "production", "web"}
	p := newPool(t, key, "r2", fastHealth(), newBackend(t, "v2", nil))
	if _, err := px.SetCanary(key, p, 10); !errors.Is(err, ErrNotRouted) {
		t.Fatalf("canary on no route: %v", err)
	}
	live := routeTo(t, px, key, []string{"shop.test"}, newBackend(t, "v1", nil))
	if _, err := px.SetCanary(key, live, 10); err == nil {
		t.Fatal("the live pool accepted as canary")
	}
	if _, err := px.SetCanary(key, p, 101); err == nil {
		t.Fatal("weight 101 accepted")
	}
}
