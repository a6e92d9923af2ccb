package api

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/deploy"
)

// Project files over the limit are refused with the limit in the
// message, before they are read.
func TestServer_BindFilesOverTheLimitSayTheLimit(t *testing.T) {
	t.Parallel()
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	tw := tar.NewWriter(zw)
	hash := strings.Repeat("b", 64)
	_ = tw.WriteHeader(&tar.Header{Name: hash + "/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: hash + "/data", Typeflag: tar.TypeReg, Mode: 0o644, Size: 100 << 20})
	_ = tw.Flush()
	_ = zw.Close() // the 100 MiB never follow: the header is enough
	req := httptest.NewRequest(http.MethodPut, "/api/v1/apps/shop/envs/production/binds", &body)
	req.SetPathValue("app", "shop")
	req.SetPathValue("env", "production")
	s := &Server{dep: deploy.New(deploy.Options{BindsDir: t.TempDir()})}
	err := s.putBinds(httptest.NewRecorder(), req)
	if err == nil || statusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "the limit is 64 MiB") {
		t.Fatalf("100 MiB of bind files: %d %v", statusOf(err), err)
	}
}
