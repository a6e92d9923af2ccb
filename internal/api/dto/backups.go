package dto

import "time"

// Backup is one backup of one named volume of an app environment.
type Backup struct {
	ID     int64  `json:"id"`
	App    string `json:"app"`
	Env    string `json:"env"`
	Volume string `json:"volume"`
	// EngineName is the engine's name of the volume it was made of.
	EngineName string `json:"engine_name"`
	// Kind is "snapshot" (a tar of the volume's files) or "dump" (the
	// file Service's dump hook wrote).
	Kind      string     `json:"kind"`
	Service   string     `json:"service,omitempty"`
	Release   int64      `json:"release"`
	Trigger   string     `json:"trigger"` // manual, schedule, restore
	CreatedBy string     `json:"created_by,omitempty"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// AgeSeconds is how long ago it was started, as the server saw it.
	AgeSeconds  int64  `json:"age_seconds"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256,omitempty"`
	Destination string `json:"destination"`
	Key         string `json:"key,omitempty"`
	Paused      bool   `json:"paused,omitempty"`
	// Status is running, ok, failed or deleted (retention removed its
	// file).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// BackupRequest asks for a backup of an app environment's volumes.
type BackupRequest struct {
	// Volume, when set, is the one volume to back up.
	Volume string `json:"volume,omitempty"`
}

// RestoreRequest asks for a backup of the path's environment to be
// restored.
type RestoreRequest struct {
	// Backup is the backup's number; 0: the newest whole one of Volume.
	Backup int64  `json:"backup,omitempty"`
	Volume string `json:"volume,omitempty"`
	// ToEnv restores into another environment's volume; empty: the
	// backup's own.
	ToEnv string `json:"to_env,omitempty"`
}

// Restore is what a restore did.
type Restore struct {
	Backup Backup `json:"backup"`
	// Previous is the backup of the state it replaced, absent when the
	// volume did not exist.
	Previous *Backup `json:"previous,omitempty"`
	Env      string  `json:"env"`
	Volume   string  `json:"volume"`
	// Restarted are the services stopped and started again.
	Restarted []string `json:"restarted,omitempty"`
}

// BackupDestination is an S3-compatible destination as listed: never
// its secret key.
type BackupDestination struct {
	Name      string `json:"name"`
	Endpoint  string `json:"endpoint"`
	Insecure  bool   `json:"insecure,omitempty"`
	Bucket    string `json:"bucket"`
	Prefix    string `json:"prefix,omitempty"`
	Region    string `json:"region,omitempty"`
	AccessKey string `json:"access_key"`
}

// BackupDestinationRequest adds (or replaces) one, with its secret key.
type BackupDestinationRequest struct {
	BackupDestination
	SecretKey string `json:"secret_key"`
}
