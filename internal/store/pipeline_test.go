package store

import "testing"

func TestSeenDeliveryAndForget(t *testing.T) {
	s, _ := openTest(t)
	seen, err := s.SeenDelivery("shop", "d1")
	if err != nil || seen {
		t.Fatalf("first SeenDelivery = %v, %v; want false, nil", seen, err)
	}
	if seen, _ := s.SeenDelivery("shop", "d1"); !seen {
		t.Fatal("second SeenDelivery of d1 = false; want true")
	}
	if seen, _ := s.SeenDelivery("blog", "d1"); seen {
		t.Fatal("d1 of another app counted as seen")
	}
	if err := s.ForgetDelivery("shop", "d1"); err != nil {
		t.Fatal(err)
	}
	if seen, _ := s.SeenDelivery("shop", "d1"); seen {
		t.Fatal("SeenDelivery after ForgetDelivery = true; want false")
	}
	if err := s.ForgetDelivery("shop", "never-seen"); err != nil {
		t.Fatalf("ForgetDelivery of an unknown id: %v", err)
	}
}
