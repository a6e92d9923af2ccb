package api

import (
	"regexp"
	"strings"
	"testing"
)

// Every route that changes something (any method but GET) names its
// action in the audit log, a snake_case name no other route has; a read
// names none.
func TestAudit_EveryChangeHasAnAction(t *testing.T) {
	t.Parallel()
	snake := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	seen := map[string]string{}
	for _, rt := range (&Server{}).routes() {
		method, _, ok := strings.Cut(rt.pattern, " ")
		a := rt.audit.action
		switch {
		case !ok || method == "GET":
			if a != "" {
				t.Errorf("%s is a read but names action %q", rt.pattern, a)
			}
		case !snake.MatchString(a):
			t.Errorf("%s: action %q is not a snake_case name", rt.pattern, a)
		case seen[a] != "":
			t.Errorf("%s and %s both name action %q", seen[a], rt.pattern, a)
		default:
			seen[a] = rt.pattern
		}
	}
}
