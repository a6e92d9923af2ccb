package build

import (
	"strings"
)

// maxRepoLen keeps <app>-<service> well inside Docker's 255-character
// limit on a reference's name.
const maxRepoLen = 200

// Tag is the image reference berth gives a service it builds:
// <app>-<service>:<revision>, normalised to what Docker accepts. The
// repository is lowercased, characters other than [a-z0-9._-] become
// "-", separator runs Docker refuses ("-.", "..", "___") become "-", and
// leading or trailing separators go ("berth" when nothing is left). The
// tag keeps [A-Za-z0-9_.-] (others become "-"), is at most 128
// characters and starts with a letter, digit or "_" (else an "r" is put
// first); an empty revision gives "latest". The result always parses as
// a Docker reference.
func Tag(app, service, revision string) string {
	return repoName(app+"-"+service) + ":" + tagName(revision)
}

func repoName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	// Docker's separators between [a-z0-9] runs: one ".", one "_", "__",
	// or any number of "-".
	var out strings.Builder
	name := b.String()
	for i := 0; i < len(name); {
		j := i
		for j < len(name) && isSep(name[j]) {
			j++
		}
		if j == i {
			out.WriteByte(name[i])
			i++
			continue
		}
		sep := name[i:j]
		if sep == "." || sep == "_" || sep == "__" || strings.Trim(sep, "-") == "" {
			out.WriteString(sep)
		} else {
			out.WriteByte('-')
		}
		i = j
	}
	repo := strings.Trim(out.String(), "._-")
	if len(repo) > maxRepoLen {
		repo = strings.TrimRight(repo[:maxRepoLen], "._-")
	}
	if repo == "" {
		return "berth"
	}
	return repo
}

func isSep(c byte) bool { return c == '.' || c == '_' || c == '-' }

func tagName(rev string) string {
	if rev == "" {
		return "latest"
	}
	b := []byte(rev)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			b[i] = '-'
		}
	}
	tag := string(b)
	if tag[0] == '.' || tag[0] == '-' {
		tag = "r" + tag
	}
	if len(tag) > 128 {
		tag = tag[:128]
	}
	return tag
}
