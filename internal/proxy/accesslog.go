package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// AccessLog writes one JSON line per proxied request (the line
// log/slog's JSON handler writes, accesslog_json.go) to a file or stdout. Lines are formatted in the request's
// goroutine and appended to a memory buffer; a background goroutine writes
// the buffer out every flushInterval, or sooner when it fills, so a slow
// disk never holds up a request. When more than maxPending bytes wait (the
// disk cannot keep up), lines are dropped and counted instead.
type AccessLog struct {
	w *asyncWriter
}

// AccessLogOptions configures OpenAccessLog.
type AccessLogOptions struct {
	// Path is the file to append to, or "-" for stdout.
	Path string
	// MaxBytes rotates the file when it grows past this size: it is renamed
	// to Path + ".1" (replacing an older one) and a new file started. Zero:
	// 100 MiB; negative: never. Not used for stdout.
	MaxBytes int64
	// Logger receives the access log's own problems (write errors, drops).
	Logger *slog.Logger
}

const (
	flushInterval   = 200 * time.Millisecond
	flushAt         = 64 << 10
	maxPending      = 4 << 20
	defaultLogBytes = 100 << 20
)

// OpenAccessLog opens (creates, appends to) the access log; Close flushes
// and closes it.
func OpenAccessLog(o AccessLogOptions) (*AccessLog, error) {
	aw := &asyncWriter{kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		maxBytes: o.MaxBytes, log: o.Logger}
	if aw.log == nil {
		aw.log = slog.Default()
	}
	if aw.maxBytes == 0 {
		aw.maxBytes = defaultLogBytes
	}
	if o.Path == "-" {
		aw.out, aw.maxBytes = os.Stdout, -1
	} else {
		if err := os.MkdirAll(filepath.Dir(o.Path), 0o755); err != nil {
			return nil, fmt.Errorf("access log: %w", err)
		}
		if err := aw.open(o.Path); err != nil {
			return nil, err
		}
	}
	go aw.run()
	return newAccessLog(aw), nil
}

// NewAccessLog returns an access log writing to w (buffered as by
// OpenAccessLog, never rotated); Close flushes it and does not close w.
func NewAccessLog(w io.Writer) *AccessLog {
	aw := &asyncWriter{out: w, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		maxBytes: -1, log: slog.Default()}
	go aw.run()
	return newAccessLog(aw)
}

func newAccessLog(aw *asyncWriter) *AccessLog { return &AccessLog{w: aw} }

// Close writes what is buffered and closes the file (not stdout, not a
// writer given to NewAccessLog). The log takes no lines after Close.
func (l *AccessLog) Close() error {
	l.w.closeOnce.Do(func() { close(l.w.stop) })
	<-l.w.done
	return l.w.closeErr
}

// Dropped returns how many lines were dropped because the output could
// not keep up.
func (l *AccessLog) Dropped() uint64 {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	return l.w.dropped
}

// accessEntry is what a request contributes to its log line.
type accessEntry struct {
	end      time.Time
	id       string
	method   string
	host     string
	path     string
	status   int
	bytes    int64
	duration time.Duration
	key      RouteKey
	release  string
	target   string
	client   string
	agent    string
}

// write formats e as one line (accesslog_json.go).
func (l *AccessLog) write(e *accessEntry) {
	var arr [512]byte
	_, _ = l.w.Write(e.appendJSON(arr[:0]))
}

// asyncWriter buffers writes in memory for its goroutine to write out.
type asyncWriter struct {
	mu      sync.Mutex
	buf     []byte
	dropped uint64

	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	// owned by run
	out      io.Writer
	file     *os.File
	path     string
	size     int64
	maxBytes int64
	spare    []byte
	log      *slog.Logger
	reported uint64
}

// Write appends one line to the buffer; it never blocks on the output.
func (aw *asyncWriter) Write(p []byte) (int, error) {
	aw.mu.Lock()
	if len(aw.buf)+len(p) > maxPending {
		aw.dropped++
		aw.mu.Unlock()
		return len(p), nil
	}
	aw.buf = append(aw.buf, p...)
	full := len(aw.buf) >= flushAt
	aw.mu.Unlock()
	if full {
		select {
		case aw.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (aw *asyncWriter) open(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("access log: %w", err)
	}
	aw.out, aw.file, aw.path, aw.size = f, f, path, st.Size()
	return nil
}

func (aw *asyncWriter) run() {
	defer close(aw.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-aw.kick:
		case <-aw.stop:
			aw.flush()
			if aw.file != nil {
				aw.closeErr = aw.file.Close()
			}
			return
		}
		aw.flush()
	}
}

// flush writes the buffer out, rotating the file when it is due.
func (aw *asyncWriter) flush() {
	aw.mu.Lock()
	aw.buf, aw.spare = aw.spare[:0], aw.buf
	dropped := aw.dropped
	aw.mu.Unlock()
	if dropped != aw.reported {
		aw.log.Warn("access log: output too slow, lines dropped", "dropped", dropped-aw.reported)
		aw.reported = dropped
	}
	if len(aw.spare) == 0 {
		return
	}
	n, err := aw.out.Write(aw.spare)
	aw.size += int64(n)
	if err != nil {
		aw.log.Warn("access log: write failed", "error", err)
	}
	if aw.spare = aw.spare[:0]; cap(aw.spare) > 2*maxPending {
		aw.spare = nil
	}
	if aw.file != nil && aw.maxBytes > 0 && aw.size >= aw.maxBytes {
		aw.rotate()
	}
}

func (aw *asyncWriter) rotate() {
	_ = aw.file.Close()
	if err := os.Rename(aw.path, aw.path+".1"); err != nil {
		aw.log.Warn("access log: rotate", "error", err)
	}
	if err := aw.open(aw.path); err != nil {
		aw.log.Warn("access log: reopen after rotation; access log off", "error", err)
		aw.out, aw.file = io.Discard, nil
	}
}
