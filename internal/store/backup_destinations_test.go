package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestStore_S3DestinationSecretIsEncrypted(t *testing.T) {
	t.Parallel()
	s, dir := openTest(t)
	d := S3Destination{Name: "offsite", Endpoint: "s3.example:9000", Bucket: "backups", Prefix: "shop", AccessKey: "AKIA1"}
	if err := s.SetS3Destination(d, "very-secret-key-123"); err != nil {
		t.Fatal(err)
	}
	got, secret, err := s.GetS3Destination("offsite")
	if err != nil || got != d || secret != "very-secret-key-123" {
		t.Fatalf("get: %+v %q %v", got, secret, err)
	}
	list, err := s.ListS3Destinations()
	if err != nil || len(list) != 1 || list[0] != d {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, _, err := s.GetS3Destination("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if err := s.SetS3Destination(S3Destination{Name: "x"}, ""); err == nil {
		t.Fatal("an incomplete destination was stored")
	}
	s.Close()
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("very-secret-key-123")) {
		t.Fatal("the secret key is in the store file in clear")
	}
}
