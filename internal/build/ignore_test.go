package build

import (
	"reflect"
	"testing"
)

// The cases follow Docker's documentation of .dockerignore
// (docs.docker.com/build/concepts/context/#dockerignore-files) and the
// CLI's rule that the Dockerfile and .dockerignore are always sent.
func TestContext_DockerignoreAsDockerDocumentsIt(t *testing.T) {
	tree := map[string]string{
		"Dockerfile":                         "FROM scratch",
		"tempa":                              "",
		"tempb":                              "",
		"temp":                               "",
		"tempab":                             "",
		"main.go":                            "",
		"README.md":                          "",
		"README-secret.md":                   "",
		"README-dev.md":                      "",
		"CHANGES.md":                         "",
		"somedir/temporary.txt":              "",
		"somedir/temp/x":                     "",
		"somedir/keep.txt":                   "",
		"somedir/subdir/temporary.txt":       "",
		"somedir/subdir/main.go":             "",
		"node_modules/left-pad/index.js":     "",
		"node_modules/.bin/x":                "",
		"docs/a.md":                          "",
		"docs/keep.md":                       "",
		"foo/bar":                            "",
		"foo/baz":                            "",
		"build/web.Dockerfile":               "",
		".git/HEAD":                          "",
		"deep/a/b/c/secret.txt":              "",
		"deep/a/b/c/ok.txt":                  "",
		"special [x].txt":                    "",
		"somedir/subdir/deeper/temporary.md": "",
	}
	cases := []struct {
		name, ignore, dockerfile string
		want                     []string
	}{
		{"comment and */temp* (one level down)", "# comment\n*/temp*",
			"", without(tree, "somedir/temporary.txt", "somedir/temp/x")},
		{"*/*/temp* (two levels down)", "*/*/temp*",
			"", without(tree, "somedir/subdir/temporary.txt")},
		{"temp? (root, one character)", "temp?",
			"", without(tree, "tempa", "tempb")},
		{"**/*.go (any depth, root included)", "**/*.go",
			"", without(tree, "main.go", "somedir/subdir/main.go")},
		{"*.md with !README.md", "*.md\n!README.md",
			"", without(tree, "README-secret.md", "README-dev.md", "CHANGES.md")},
		{"*.md, !README*.md, then README-secret.md", "*.md\n!README*.md\nREADME-secret.md",
			"", without(tree, "README-secret.md", "CHANGES.md")},
		{"*.md, README-secret.md, then !README*.md: the last match wins", "*.md\nREADME-secret.md\n!README*.md",
			"", without(tree, "CHANGES.md")},
		{"a leading / is the context root", "/foo/bar\n/node_modules",
			"", without(tree, "foo/bar", "node_modules/left-pad/index.js", "node_modules/.bin/x")},
		{"./ and trailing / are cleaned", "./foo/\n.git/",
			"", without(tree, "foo/bar", "foo/baz", ".git/HEAD")},
		{"a directory and everything in it", "node_modules",
			"", without(tree, "node_modules/left-pad/index.js", "node_modules/.bin/x")},
		{"an exception inside an excluded directory", "docs\n!docs/keep.md",
			"", without(tree, "docs/a.md")},
		{"**/ in the middle", "deep/**/secret.txt",
			"", without(tree, "deep/a/b/c/secret.txt")},
		{"character classes and escapes", "special \\[x\\].txt\ntemp[ab]",
			"", without(tree, "special [x].txt", "tempa", "tempb")},
		{"excluding everything keeps the Dockerfile and .dockerignore", "*",
			"", []string{".dockerignore", "Dockerfile"}},
		{"** excludes everything too", "**",
			"", []string{".dockerignore", "Dockerfile"}},
		{"a Dockerfile in an excluded directory is still sent", "*\n!main.go",
			"build/web.Dockerfile", []string{".dockerignore", "build/web.Dockerfile", "main.go"}},
		{"excluding the Dockerfile and .dockerignore by name; *.md is the root's only", "Dockerfile\n.dockerignore\n*.md",
			"", without(tree, "README.md", "README-secret.md", "README-dev.md", "CHANGES.md")},
		{"blank lines and spaces", "\n\n   \n  tempa  \n",
			"", without(tree, "tempa")},
		{"an empty file excludes nothing", "",
			"", without(tree)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{".dockerignore": tc.ignore}
			for k, v := range tree {
				files[k] = v
			}
			got := filesOf(t, writeTree(t, files), tc.dockerfile)
			want := append([]string{".dockerignore"}, tc.want...)
			if tc.want != nil && tc.want[0] == ".dockerignore" {
				want = tc.want
			}
			sortStrings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf(".dockerignore %q:\n got  %v\n want %v\n extra %v\n missing %v", tc.ignore, got, want, minus(got, want), minus(want, got))
			}
		})
	}
}

func TestContext_NoDockerignoreSendsEverything(t *testing.T) {
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM scratch", ".git/HEAD": "ref", "a/b": ""})
	if got := filesOf(t, dir, ""); !reflect.DeepEqual(got, []string{".git/HEAD", "Dockerfile", "a/b"}) {
		t.Fatalf("context %v", got)
	}
}

func TestContext_BadPatternIsAnError(t *testing.T) {
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM scratch", ".dockerignore": "[\n"})
	if _, err := Context(dir, ""); err == nil {
		t.Fatal("a malformed pattern was accepted")
	}
}

func filesOf(t *testing.T, dir, dockerfile string) []string {
	t.Helper()
	return files(t, dir, dockerfile)
}

// without lists the files of tree minus drop, sorted.
func without(tree map[string]string, drop ...string) []string {
	out := []string{}
	for name := range tree {
		keep := true
		for _, d := range drop {
			keep = keep && name != d
		}
		if keep {
			out = append(out, name)
		}
	}
	sortStrings(out)
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}
