package upstream

import _ "unsafe" // for go:linkname

// nanotime is the runtime's monotonic clock in nanoseconds: idle times are
// taken at every put and get, where time.Now would read the wall clock as
// well.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
