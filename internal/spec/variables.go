package spec

import (
	"fmt"
	"sort"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
)

// quietSubstitute is compose-go's interpolation without its log line for
// an unset variable: unsetVariables reports those in berth's own format.
func quietSubstitute(s string, m template.Mapping) (string, error) {
	return template.SubstituteWithOptions(s, m, template.WithoutLogging)
}

// unsetVariables warns of each ${VAR} a file uses without a default that
// is set neither in the environment nor in .env: as docker compose does,
// it is replaced by an empty string, which is rarely what was meant.
func unsetVariables(files []*sourceFile, env types.Mapping) []string {
	var out []string
	for _, f := range files {
		if f.doc == nil {
			continue
		}
		var names []string
		for name, v := range template.ExtractVariables(f.doc, template.DefaultPattern) {
			if _, set := env[name]; set || v.Required || v.DefaultValue != "" || v.PresenceValue != "" {
				continue
			}
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			out = append(out, fmt.Sprintf("%s: variable %s is not set, so it is replaced by an empty string (as docker compose does); set it in the environment or in .env, or give a default: ${%s:-VALUE}", f.name, name, name))
		}
	}
	return out
}
