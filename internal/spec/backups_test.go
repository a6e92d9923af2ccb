package spec

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestService_BackupVolumeIsTheOneNamedVolume(t *testing.T) {
	t.Parallel()
	one := Service{Volumes: []Mount{{Type: "volume", Source: "data", Target: "/d"}, {Type: "volume", Target: "/anon"}, {Type: "bind", Source: "/h", Target: "/h"}}}
	if got := one.BackupVolume(); got != "data" {
		t.Errorf("one named volume: got %q, want data", got)
	}
	two := Service{Volumes: []Mount{{Type: "volume", Source: "a", Target: "/a"}, {Type: "volume", Source: "b", Target: "/b"}}}
	if got := two.BackupVolume(); got != "" {
		t.Errorf("two named volumes and no volume: got %q, want none", got)
	}
	two.Backup = &BackupHook{Command: []string{"dump"}, File: "/d", Volume: "b"}
	if got := two.BackupVolume(); got != "b" {
		t.Errorf("volume: b: got %q", got)
	}
}

func TestApp_BackupPolicyOrDefault(t *testing.T) {
	t.Parallel()
	if got := (&App{}).BackupPolicyOrDefault(); got.Keep.Last != DefaultKeepLast || got.Destination != DestinationLocal || got.Schedule != "" {
		t.Errorf("default policy: %+v", got)
	}
	a := &App{Backups: &BackupPolicy{Keep: Keep{Daily: 3}}}
	if got := a.BackupPolicyOrDefault(); got.Keep != (Keep{Daily: 3}) || got.Destination != DestinationLocal {
		t.Errorf("file's policy: %+v", got)
	}
}

func TestApp_ValidateChecksBackupsReadFromJSON(t *testing.T) {
	t.Parallel()
	app := App{Name: "notes", Services: []Service{{Name: "db", Image: "x", Replicas: 1,
		Volumes: []Mount{{Type: "volume", Source: "data", Target: "/d"}},
		Backup:  &BackupHook{Command: []string{"dump"}, File: "/tmp/d", Volume: "other"}}},
		Volumes: []Volume{{Key: "data"}},
		Backups: &BackupPolicy{Schedule: "@daily", Keep: Keep{}, Destination: "relative/dir"}}
	applyDefaults(&app.Services[0])
	b, _ := json.Marshal(app)
	var back App
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	err := back.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad backups")
	}
	for _, want := range []string{
		`service "db": x-berth.backup.volume: service "db" mounts no named volume "other"`,
		`x-berth.backups.keep: keeps nothing but the newest backup`,
		`x-berth.backups.destination: must be local`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}
