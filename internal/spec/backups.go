package spec

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Backups of the data in named volumes (issue 19): a service's
// x-berth.backup says how its data is copied (a dump hook run in its
// container, or a snapshot of its volume with the service paused), the
// top-level x-berth.backups when and where backups are made and how
// many are kept.

// Destinations of x-berth.backups.destination.
const (
	// DestinationLocal is the server's backup directory (berth server
	// --backup-dir, by default under its data dir): the default.
	DestinationLocal = "local"
	// S3Prefix starts a destination that is an S3-compatible bucket the
	// server knows by name (berth backup-destination add): s3:NAME.
	S3Prefix = "s3:"
)

var (
	backupKeys  = []string{"command", "file", "pause", "restore", "volume"}
	backupsKeys = []string{"destination", "keep", "schedule", "timezone"}
	keepKeys    = []string{"daily", "last", "weekly"}
)

// DefaultKeepLast is how many backups an app keeps when x-berth.backups
// sets no keep: the newest seven.
const DefaultKeepLast = 7

// BackupHook is a service's x-berth.backup.
type BackupHook struct {
	// Command, when set, is a dump command run in the service's running
	// container (as docker exec runs one); it writes File, which is the
	// backup of the service's volume.
	Command []string `json:"command,omitempty"`
	// File is the absolute path in the container of the dump Command
	// writes.
	File string `json:"file,omitempty"`
	// Restore, when set, is the command that loads the dump back: berth
	// copies the backup to File in the container, then runs it.
	Restore []string `json:"restore,omitempty"`
	// Volume is the key of the named volume the dump stands for; empty
	// when the service mounts one named volume (that one).
	Volume string `json:"volume,omitempty"`
	// Pause pauses the service's containers while a snapshot of its
	// volumes is copied (no dump hook), so no write lands mid-copy.
	Pause bool `json:"pause,omitempty"`
}

// Hooked reports whether the backup is made by a dump command.
func (h *BackupHook) Hooked() bool { return h != nil && len(h.Command) > 0 }

// BackupPolicy is the top-level x-berth.backups.
type BackupPolicy struct {
	// Schedule, when set, makes a backup of every named volume on a
	// cron schedule (as x-berth.jobs reads them), in Timezone (empty:
	// UTC).
	Schedule string `json:"schedule,omitempty"`
	Timezone string `json:"timezone,omitempty"`
	// Keep is the retention of the app environment's backups.
	Keep Keep `json:"keep"`
	// Destination is where backups are written: DestinationLocal (the
	// default), an absolute directory on the server, or s3:NAME.
	Destination string `json:"destination,omitempty"`
}

// Keep is a retention policy: a backup is kept when it is one of the
// Last newest, the newest of one of the Daily newest days that have
// one, or the newest of one of the Weekly newest ISO weeks that have
// one. The newest backup is always kept.
type Keep struct {
	Last   int `json:"last,omitempty"`
	Daily  int `json:"daily,omitempty"`
	Weekly int `json:"weekly,omitempty"`
}

// BackupVolume is the key of the named volume svc's dump hook stands
// for: its volume:, else the one named volume svc mounts ("" when it
// mounts none or several).
func (s *Service) BackupVolume() string {
	if s.Backup != nil && s.Backup.Volume != "" {
		return s.Backup.Volume
	}
	keys := s.namedVolumes()
	if len(keys) == 1 {
		return keys[0]
	}
	return ""
}

// namedVolumes are the keys of the named volumes svc mounts, in order,
// once each.
func (s *Service) namedVolumes() []string {
	var keys []string
	for _, m := range s.Volumes {
		if m.Type == "volume" && m.Source != "" && !containsString(keys, m.Source) {
			keys = append(keys, m.Source)
		}
	}
	return keys
}

// BackupPolicyOrDefault is the app's x-berth.backups, or the default
// policy (no schedule, the newest DefaultKeepLast kept, the server's
// directory) when the file sets none.
func (a *App) BackupPolicyOrDefault() BackupPolicy {
	if a.Backups != nil {
		p := *a.Backups
		if p.Destination == "" {
			p.Destination = DestinationLocal
		}
		return p
	}
	return BackupPolicy{Keep: Keep{Last: DefaultKeepLast}, Destination: DestinationLocal}
}

// parseBackupHook reads a service's x-berth.backup.
func parseBackupHook(c *collector, s *Service, field string, raw any) {
	m, ok := parseMapping(c, s.Name, field, raw, backupKeys)
	if !ok {
		return
	}
	h := &BackupHook{}
	for _, k := range sortedKeys(m) {
		v, f := m[k], field+"."+k
		switch k {
		case "command":
			h.Command = parseCommand(c, s.Name, f, v)
		case "restore":
			h.Restore = parseCommand(c, s.Name, f, v)
		case "file", "volume":
			str, ok := v.(string)
			if !ok {
				c.add(s.Name, f, fmt.Sprintf("must be a string, got %s", describe(v)))
				continue
			}
			if k == "file" {
				h.File = str
			} else {
				h.Volume = str
			}
		case "pause":
			h.Pause = parseBool(c, s.Name, f, v)
		default:
			c.add(s.Name, f, unknownKey(k, backupKeys))
		}
	}
	s.Backup = h
}

// parseBackupPolicy reads the top-level x-berth.backups.
func parseBackupPolicy(c *collector, app *App, raw any) {
	field := ExtensionKey + ".backups"
	m, ok := parseMapping(c, "", field, raw, backupsKeys)
	if !ok {
		return
	}
	p := &BackupPolicy{Keep: Keep{Last: DefaultKeepLast}}
	for _, k := range sortedKeys(m) {
		v, f := m[k], field+"."+k
		switch k {
		case "schedule", "timezone", "destination":
			str, ok := v.(string)
			if !ok {
				c.add("", f, fmt.Sprintf("must be a string, got %s", describe(v)))
				continue
			}
			switch k {
			case "schedule":
				p.Schedule = str
			case "timezone":
				p.Timezone = str
			default:
				p.Destination = str
			}
		case "keep":
			km, ok := parseMapping(c, "", f, v, keepKeys)
			if !ok {
				continue
			}
			p.Keep = Keep{}
			for _, kk := range sortedKeys(km) {
				kf := f + "." + kk
				n, ok := parseInt(c, "", kf, km[kk])
				if !ok {
					continue
				}
				switch kk {
				case "last":
					p.Keep.Last = n
				case "daily":
					p.Keep.Daily = n
				case "weekly":
					p.Keep.Weekly = n
				default:
					c.add("", kf, unknownKey(kk, keepKeys))
				}
			}
		default:
			c.add("", f, unknownKey(k, backupsKeys))
		}
	}
	app.Backups = p
}

// validateBackups checks every service's x-berth.backup and the
// top-level x-berth.backups.
func validateBackups(c *collector, a *App) {
	for i := range a.Services {
		s := &a.Services[i]
		if s.Backup == nil {
			continue
		}
		h, f := s.Backup, ExtensionKey+".backup"
		switch {
		case len(h.Command) == 0 && h.File != "":
			c.add(s.Name, f+".command", "required with file: give the dump command that writes it, e.g. [\"sqlite3\", \"/data/app.db\", \".backup /tmp/app.db\"]")
		case len(h.Command) > 0 && h.File == "":
			c.add(s.Name, f+".file", "required with command: give the absolute path in the container of the file the command writes")
		case len(h.Command) == 0 && !h.Pause:
			c.add(s.Name, f, "says nothing: give command and file (a dump run in the service's container), or pause: true (a snapshot of its volume with the service paused)")
		}
		if h.File != "" && (!path.IsAbs(h.File) || path.Clean(h.File) != h.File || h.File == "/") {
			c.add(s.Name, f+".file", fmt.Sprintf("must be an absolute, clean path of a file in the container, got %s", quote(h.File)))
		}
		if dir := tmpfsHolding(s, h.File); dir != "" {
			c.add(s.Name, f+".file", fmt.Sprintf("%s is on the tmpfs mount %s, which the engine cannot copy files out of: write the dump into the container's own file system (e.g. /%s) or a volume", quote(h.File), dir, path.Base(h.File)))
		}
		if len(h.Restore) > 0 && len(h.Command) == 0 {
			c.add(s.Name, f+".restore", "loads a dump back: give the dump's command and file too")
		}
		if h.Pause && len(h.Command) > 0 {
			c.add(s.Name, f+".pause", "applies to a snapshot of the volume: a dump command runs in the running container; remove pause, or command and file")
		}
		keys := s.namedVolumes()
		switch {
		case h.Volume != "":
			if !containsString(keys, h.Volume) {
				c.add(s.Name, f+".volume", fmt.Sprintf("service %s mounts no named volume %s (it mounts %s)", quote(s.Name), quote(h.Volume), listOrNone(keys)))
			} else if len(h.Command) == 0 {
				c.add(s.Name, f+".volume", "names the volume a dump stands for: give command and file too, or remove volume")
			}
		case len(h.Command) > 0 && len(keys) == 0:
			c.add(s.Name, f, "a dump stands for the data of a named volume, and the service mounts none: mount its data from a named volume (volumes: [\"data:/var/lib/data\"])")
		case len(h.Command) > 0 && len(keys) > 1:
			c.add(s.Name, f+".volume", fmt.Sprintf("required: the service mounts %d named volumes (%s); name the one the dump stands for", len(keys), strings.Join(keys, ", ")))
		case h.Pause && len(keys) == 0:
			c.add(s.Name, f+".pause", "pauses the service while its named volumes are copied, and it mounts none")
		}
	}
	p := a.Backups
	if p == nil {
		return
	}
	f := ExtensionKey + ".backups"
	if strings.TrimSpace(p.Schedule) != "" {
		if _, err := ParseCron(strings.TrimSpace(p.Schedule), ""); err != nil {
			c.add("", f+".schedule", fmt.Sprintf("%v, or a descriptor: @yearly, @monthly, @weekly, @daily, @hourly, @every DURATION", err))
		}
	}
	if p.Timezone != "" {
		if _, err := time.LoadLocation(p.Timezone); err != nil {
			c.add("", f+".timezone", fmt.Sprintf("unknown time zone %s: give an IANA name such as \"Europe/Lisbon\" or \"UTC\"", quote(p.Timezone)))
		} else if strings.TrimSpace(p.Schedule) == "" {
			c.add("", f+".timezone", "is the time zone of schedule:, which is not set; add a schedule or remove timezone")
		}
	}
	for _, k := range []struct {
		name string
		n    int
	}{{"last", p.Keep.Last}, {"daily", p.Keep.Daily}, {"weekly", p.Keep.Weekly}} {
		if k.n < 0 {
			c.add("", f+".keep."+k.name, fmt.Sprintf("must be 0 or more, got %d", k.n))
		}
	}
	if p.Keep.Last <= 0 && p.Keep.Daily <= 0 && p.Keep.Weekly <= 0 {
		c.add("", f+".keep", "keeps nothing but the newest backup: give last, daily or weekly (e.g. keep: {last: 7, daily: 7, weekly: 4})")
	}
	switch d := p.Destination; {
	case d == "" || d == DestinationLocal:
	case strings.HasPrefix(d, "s3://"):
		c.add("", f+".destination", fmt.Sprintf("%s: an S3 bucket is named by the destination the server knows it as, with its credentials: berth backup-destination add NAME --endpoint HOST --bucket BUCKET --access-key KEY --secret-key-stdin, then destination: s3:NAME", quote(d)))
	case strings.HasPrefix(d, S3Prefix):
		if msg := checkAppName(strings.TrimPrefix(d, S3Prefix)); msg != "" {
			c.add("", f+".destination", fmt.Sprintf("%s: the destination's name: %s", quote(d), msg))
		}
	case !path.IsAbs(d) || path.Clean(d) != d || d == "/":
		c.add("", f+".destination", fmt.Sprintf("must be local (the server's backup directory), s3:NAME (an S3-compatible bucket the server knows) or an absolute, clean directory on the server, got %s", quote(d)))
	}
}

// tmpfsHolding is the tmpfs mount of s that p is on, or "".
func tmpfsHolding(s *Service, p string) string {
	if p == "" {
		return ""
	}
	var dirs []string
	for _, m := range s.Volumes {
		if m.Type == "tmpfs" {
			dirs = append(dirs, m.Target)
		}
	}
	if s.Container != nil {
		for _, t := range s.Container.Tmpfs {
			d, _, _ := strings.Cut(t, ":")
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		d = path.Clean(d)
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return d
		}
	}
	return ""
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
