package store

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestStore_DropDefinitionOfRefusedRelease(t *testing.T) {
	s, _ := openTest(t)
	if err := s.SetSecret("shop", "production", "DB_PASSWORD", "hunter2-marker"); err != nil {
		t.Fatal(err)
	}
	r := testRelease("shop", "production", "a1")
	r.Spec.Services[0].Environment = map[string]string{"BIG": strings.Repeat("definition-marker", 1000)}
	r.SecretFiles = map[string]string{"db_pass": "sealed-marker"}
	rel := must[Release](t)(s.CreateRelease(r))
	if err := s.DropDefinition("shop", "production", rel.ID); !errors.Is(err, ErrTransition) {
		t.Fatalf("DropDefinition of a pending release: %v, want ErrTransition", err)
	}
	if err := s.FailRelease("shop", "production", rel.ID, "image app:a1 missing"); err != nil {
		t.Fatal(err)
	}
	if err := s.DropDefinition("shop", "production", rel.ID); err != nil {
		t.Fatal(err)
	}
	got := must[Release](t)(s.GetRelease("shop", "production", rel.ID))
	if !got.Refused || got.Status != StatusFailed || got.Reason != "image app:a1 missing" || len(got.Spec.Services) != 0 || got.Spec.Name != "shop" || got.Config != nil || got.SecretNames != nil {
		t.Errorf("refused release = %+v, want failed, refused, its reason and no definition", got)
	}
	if got.Services["web"].Image != "shop:a1" {
		t.Errorf("refused release lost its images: %+v", got.Services)
	}
	if sec := must[map[string]string](t)(s.ReleaseSecrets("shop", "production", rel.ID)); len(sec) != 0 {
		t.Errorf("refused release keeps its secrets snapshot: %v", sec)
	}
	if files := must[map[string]string](t)(s.ReleaseSecretFiles("shop", "production", rel.ID)); len(files) != 0 {
		t.Errorf("refused release keeps its sealed Compose secrets: %v", files)
	}
	// Reopened, the record still has no definition.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(strings.TrimSuffix(s.Path(), "/"+FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	again := must[Release](t)(s2.GetRelease("shop", "production", rel.ID))
	if len(again.Spec.Services) != 0 {
		t.Errorf("reopened: the refused release has its definition again")
	}
}

func TestStore_PruneFailedKeepsHistory(t *testing.T) {
	s, _ := openTest(t)
	var live int64
	for i := range 8 {
		rel := must[Release](t)(s.CreateRelease(testRelease("shop", "production", string(rune('a'+i)))))
		switch i {
		case 0, 4:
			must[int64](t)(s.Activate("shop", "production", rel.ID, StatusSuperseded))
			live = rel.ID
		default:
			if err := s.FailRelease("shop", "production", rel.ID, "refused"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Releases 1 (superseded) and 5 (live) went live; 2,3,4,6,7,8 failed.
	gone := must[[]int64](t)(s.PruneFailed("shop", "production", 2))
	if want := []int64{2, 3, 4, 6}; !slices.Equal(gone, want) {
		t.Errorf("pruned %v, want %v (the newest 2 failed stay)", gone, want)
	}
	var ids []int64
	for _, r := range must[[]Release](t)(s.ListReleases("shop", "production")) {
		ids = append(ids, r.ID)
	}
	if want := []int64{8, 7, 5, 1}; !slices.Equal(ids, want) {
		t.Errorf("releases after prune %v, want %v", ids, want)
	}
	if lr := must[Release](t)(s.LiveRelease("shop", "production")); lr.ID != live {
		t.Errorf("live release %d, want %d", lr.ID, live)
	}
	// IDs are never reused.
	next := must[Release](t)(s.CreateRelease(testRelease("shop", "production", "z")))
	if next.ID != 9 {
		t.Errorf("next release ID %d, want 9", next.ID)
	}
}
