package spec

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A volume with nothing but its key keeps the form releases stored
// before volumes had options (a bare string); both forms read back.
func TestVolume_JSON(t *testing.T) {
	vols := []Volume{
		{Key: "uploads"},
		{Key: "media", Name: "media", External: true},
		{Key: "cache", Name: "shop-cache", Driver: "local", DriverOpts: map[string]string{"type": "tmpfs"}, Labels: map[string]string{"team": "shop"}},
	}
	b, err := json.Marshal(vols)
	if err != nil {
		t.Fatal(err)
	}
	want := `["uploads",{"key":"media","name":"media","external":true},{"key":"cache","name":"shop-cache","driver":"local","driver_opts":{"type":"tmpfs"},"labels":{"team":"shop"}}]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back []Volume
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, vols) {
		t.Errorf("round trip: %+v %v", back, err)
	}
	var old App
	if err := json.Unmarshal([]byte(`{"name":"shop","volumes":["data","uploads"]}`), &old); err != nil {
		t.Fatal(err)
	}
	if v, ok := old.Volume("uploads"); !ok || !reflect.DeepEqual(v, Volume{Key: "uploads"}) {
		t.Errorf("a release stored before: %+v %v", old.Volumes, ok)
	}
}

func TestVolume_Driver(t *testing.T) {
	if d := (Volume{}).VolumeDriver(); d != "local" {
		t.Errorf("default driver %q", d)
	}
	if d := (Volume{Driver: "rexray"}).VolumeDriver(); d != "rexray" {
		t.Errorf("driver %q", d)
	}
}
