package spec

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in an app definition. Its message has the shape
//
//	compose.yaml: service "web": x-berth.port: must be between 1 and 65535, got 70000
//
// where the file, service and field parts are left out when empty.
type Error struct {
	// File is the Compose file the problem is in, as the user named it.
	File string
	// Service is the service the problem is in, empty for app-level ones.
	Service string
	// Field is the path of the offending field inside the service (or the
	// top level), e.g. "x-berth.healthcheck.interval" or "volumes[1]".
	Field string
	// Msg says what is wrong and, where it helps, what to do.
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Service != "" {
		b.WriteString("service ")
		b.WriteString(quote(e.Service))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in an app definition, sorted by file,
// service, field and message. Its message lists one problem per line.
// errors.As(err, &target) with target of type *Error finds the first one.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns each problem, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
}

// collector gathers problems. It keeps only the first problem reported for
// a given service and field, so that a value that failed to parse is not
// reported again by the checks that run on the parsed result.
type collector struct {
	errs Errors
	seen map[[2]string]bool
	// fileFor names the file a problem with a service's field is in.
	fileFor func(service, field string) string
}

func (c *collector) add(service, field, msg string) {
	key := [2]string{service, field}
	if c.seen == nil {
		c.seen = map[[2]string]bool{}
	}
	if field != "" && c.seen[key] {
		return
	}
	c.seen[key] = true
	file := ""
	if c.fileFor != nil {
		file = c.fileFor(service, field)
	}
	c.errs = append(c.errs, &Error{File: file, Service: service, Field: field, Msg: msg})
}

// addErr adds a problem whose file is known, once per service and field.
func (c *collector) addErr(e *Error) {
	key := [2]string{e.Service, e.Field}
	if c.seen == nil {
		c.seen = map[[2]string]bool{}
	}
	if e.Field != "" && c.seen[key] {
		return
	}
	c.seen[key] = true
	c.errs = append(c.errs, e)
}

// suppress drops any later problem with the field, when an earlier one
// already covers it.
func (c *collector) suppress(service, field string) {
	if c.seen == nil {
		c.seen = map[[2]string]bool{}
	}
	c.seen[[2]string{service, field}] = true
}

// err returns the problems as a sorted Errors, or nil when there are none.
func (c *collector) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	c.errs.sort()
	return c.errs
}

// quote quotes names and values in messages.
func quote(s string) string { return strconv.Quote(s) }

// suggest returns the known word closest to typo when it is close enough to
// be a likely typo, or "".
func suggest(typo string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(typo, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
