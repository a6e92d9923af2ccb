package proxy

import _ "unsafe" // for go:linkname

// nanotime is the runtime's monotonic clock in nanoseconds. Request
// statistics read it twice per request: it costs about half of time.Now,
// which reads the wall clock as well. runtime.nanotime is one of the
// runtime functions that stay reachable by linkname on purpose.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// monoSecond is the current second of the monotonic clock, the time base
// of the targets' rate windows.
func monoSecond() int64 { return nanotime() / 1e9 }
