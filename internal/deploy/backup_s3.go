package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/berth-dev/berth/internal/spec"
	"github.com/berth-dev/berth/internal/store"
)

// S3-compatible destinations (x-berth.backups.destination: s3:NAME). A
// backup is made in the server's backup directory as for local, then
// its file and checksum are uploaded under the destination's prefix and
// the local copy removed; a restore downloads the file back beside them
// and checks it as a local one. The credentials are the store's,
// encrypted at rest.

// s3Name is the destination name of an s3:NAME destination, "" for any
// other.
func s3Name(dest string) string {
	if n, ok := strings.CutPrefix(dest, spec.S3Prefix); ok {
		return n
	}
	return ""
}

type s3Bucket struct {
	c      *minio.Client
	bucket string
	prefix string
	name   string
}

// s3Of opens destination name.
func (b *Backups) s3Of(name string) (*s3Bucket, error) {
	d, secret, err := b.d.store.GetS3Destination(name)
	if err != nil {
		return nil, fmt.Errorf("%w: x-berth.backups.destination s3:%s: this server knows no such destination (berth backup-destination list; add it with berth backup-destination add %s)", ErrInvalid, name, name)
	}
	c, err := minio.New(d.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(d.AccessKey, secret, ""), Secure: !d.Insecure, Region: d.Region})
	if err != nil {
		return nil, fmt.Errorf("backup destination %s: %w", name, err)
	}
	return &s3Bucket{c: c, bucket: d.Bucket, prefix: strings.Trim(d.Prefix, "/"), name: name}, nil
}

func (s *s3Bucket) object(key string) string {
	if s.prefix == "" {
		return key
	}
	return path.Join(s.prefix, key)
}

// upload puts dir/key and its checksum into the bucket, then removes
// the local copies.
func (s *s3Bucket) upload(ctx context.Context, dir, key string) error {
	p := filepath.Join(dir, filepath.FromSlash(key))
	for _, f := range []string{p + ".sha256", p} { // the checksum first: a file without one is never listed whole
		obj := s.object(key + strings.TrimPrefix(f, p))
		if _, err := s.c.FPutObject(ctx, s.bucket, obj, f, minio.PutObjectOptions{ContentType: "application/gzip"}); err != nil {
			return fmt.Errorf("upload %s to s3:%s (bucket %s): %w", obj, s.name, s.bucket, err)
		}
	}
	for _, f := range []string{p, p + ".sha256"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// download fetches key into dir (where openBackup reads it).
func (s *s3Bucket) download(ctx context.Context, dir, key string) error {
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	if err := s.c.FGetObject(ctx, s.bucket, s.object(key), p, minio.GetObjectOptions{}); err != nil {
		return fmt.Errorf("download %s from s3:%s (bucket %s): %w", s.object(key), s.name, s.bucket, err)
	}
	return nil
}

// remove deletes key and its checksum from the bucket.
func (s *s3Bucket) remove(ctx context.Context, key string) error {
	for _, k := range []string{key, key + ".sha256"} {
		if err := s.c.RemoveObject(ctx, s.bucket, s.object(k), minio.RemoveObjectOptions{}); err != nil {
			return fmt.Errorf("remove %s from s3:%s: %w", s.object(k), s.name, err)
		}
	}
	return nil
}

// checkS3 refuses an s3: destination the server cannot reach before a
// backup is made.
func (b *Backups) checkS3(ctx context.Context, dest string) error {
	n := s3Name(dest)
	if n == "" {
		return nil
	}
	s, err := b.s3Of(n)
	if err != nil {
		return err
	}
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("backup destination s3:%s: %w", n, err)
	}
	if !ok {
		return fmt.Errorf("%w: backup destination s3:%s: bucket %s does not exist: create it, or fix the destination (berth backup-destination add %s …)", ErrInvalid, n, s.bucket, n)
	}
	return nil
}

// fetched makes a backup's file readable in the server's directory:
// downloaded when it is in a bucket. done removes the download.
func (b *Backups) fetched(ctx context.Context, bk store.Backup) (dir string, done func(), err error) {
	n := s3Name(bk.Destination)
	if n == "" {
		return b.dirOf(bk), func() {}, nil
	}
	s, err := b.s3Of(n)
	if err != nil {
		return "", nil, err
	}
	if err := s.download(ctx, b.dir, bk.Key); err != nil {
		return "", nil, fmt.Errorf("backup %d: %w", bk.ID, err)
	}
	return b.dir, func() { _ = os.Remove(filepath.Join(b.dir, filepath.FromSlash(bk.Key))) }, nil
}
