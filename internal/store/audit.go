package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketAudit = []byte("audit")

// The outcomes of an audit entry.
const (
	AuditOK      = "ok"      // the request did what it asked
	AuditRefused = "refused" // not authenticated (401) or not allowed (403)
	AuditFailed  = "failed"  // allowed, but it failed: see Error
)

// AuditEntry is one record of the audit log: who asked for a change,
// from where, what it was and how it ended. It never holds a secret
// value: the API leaves them out before appending.
type AuditEntry struct {
	// Seq orders entries made at the same instant; it is set by
	// AppendAudit.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Actor is a token's name, "admin-token", "webhook:PROVIDER", or ""
	// when the request named no known token.
	Actor  string `json:"actor"`
	Source string `json:"source,omitempty"`
	// Action is a stable snake_case name: "deploy", "secret_set".
	Action string `json:"action"`
	App    string `json:"app,omitempty"`
	Env    string `json:"env,omitempty"`
	// Params are the request's parameters, secret values left out.
	Params     map[string]string `json:"params,omitempty"`
	Outcome    string            `json:"outcome"`
	Status     int               `json:"status,omitempty"`
	Error      string            `json:"error,omitempty"`
	Deployment int64             `json:"deployment,omitempty"`
	Build      int64             `json:"build,omitempty"`
}

// auditKey orders entries by time, then sequence: 8 bytes of Unix
// nanoseconds, 8 of sequence, both big-endian.
func auditKey(t time.Time, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

// AppendAudit appends e to the audit log (its Time defaults to now) and
// returns it with its sequence. Entries are never changed, only pruned
// by age.
func (s *Store) AppendAudit(e AuditEntry) (AuditEntry, error) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = e.Time.UTC()
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketAudit)
		if err != nil {
			return err
		}
		if e.Seq, err = b.NextSequence(); err != nil {
			return err
		}
		return putJSON(b, auditKey(e.Time, e.Seq), e)
	})
	return e, err
}

// AuditFilter selects audit entries; zero fields select everything.
type AuditFilter struct {
	App   string
	Actor string
	Since time.Time
	// Limit is the most entries returned (0: all).
	Limit int
}

// ListAudit returns the entries f selects, newest first.
func (s *Store) ListAudit(f AuditFilter) ([]AuditEntry, error) {
	out := []AuditEntry{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (f.Limit <= 0 || len(out) < f.Limit); k, v = c.Prev() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit entry %x: %w", k, err)
			}
			if !f.Since.IsZero() && e.Time.Before(f.Since) {
				break // older ones follow
			}
			if (f.App != "" && e.App != f.App) || (f.Actor != "" && e.Actor != f.Actor) {
				continue
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// PruneAudit deletes the entries made before before and says how many.
func (s *Store) PruneAudit(before time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		if b == nil {
			return nil
		}
		end := auditKey(before, 0)
		c := b.Cursor()
		for k, _ := c.First(); k != nil && string(k) < string(end); k, _ = c.First() {
			if err := b.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
