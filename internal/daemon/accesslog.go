package daemon

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/berth-dev/berth/internal/proxy"
)

// AccessLogFile is the access log's file name in the data dir, where it
// goes unless --access-log says otherwise.
const AccessLogFile = "access.log"

// openAccessLog opens the proxy's access log as cfg.AccessLog says: "off"
// (nil: no log), "-" (stdout), a file path, or "" for DataDir/access.log.
// Files rotate at 100 MiB to PATH.1.
func openAccessLog(cfg Config, log *slog.Logger) (*proxy.AccessLog, error) {
	path := cfg.AccessLog
	switch path {
	case "off":
		return nil, nil
	case "":
		path = filepath.Join(cfg.DataDir, AccessLogFile)
	}
	al, err := proxy.OpenAccessLog(proxy.AccessLogOptions{Path: path, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("--access-log %s (a file, - for stdout, or off): %w", path, err)
	}
	log.Info("access log", "path", path)
	return al, nil
}
