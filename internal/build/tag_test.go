package build

import (
	"strings"
	"testing"

	"github.com/distribution/reference"
)

func TestTag_Normalises(t *testing.T) {
	for _, tc := range [][4]string{
		{"shop", "web", "3f2a9c1d3f2a", "shop-web:3f2a9c1d3f2a"},
		{"Shop", "Web_UI", "feature/x", "shop-web_ui:feature-x"},
		{"shop", "web", "", "shop-web:latest"},
		{"my app", "web", "v1.2", "my-app-web:v1.2"},
		{"shop.", "_web", "x", "shop-web:x"}, // "._" is no separator Docker takes
		{"a..b", "c___d", "x", "a-b-c-d:x"},  // nor ".." and "___"
		{"a__b", "c--d", "x", "a__b-c--d:x"}, // "__" and "-" runs are
		{"-", "-", "-rev", "berth:r-rev"},    // nothing left of the name
		{"shop", "web", ".hidden", "shop-web:r.hidden"},
		{"ÉCOLE", "wéb", "çommit", "cole-w-b:r--ommit"}, // not Unicode
	} {
		got := Tag(tc[0], tc[1], tc[2])
		if got != tc[3] {
			t.Errorf("Tag(%q, %q, %q) = %q, want %q", tc[0], tc[1], tc[2], got, tc[3])
		}
	}
	if got := Tag("shop", "web", strings.Repeat("a", 300)); len(got) != len("shop-web:")+128 {
		t.Errorf("long revision: %q", got)
	}
}

// FuzzTag checks that whatever the input, Tag is a reference Docker
// accepts, with the repository and tag berth meant.
func FuzzTag(f *testing.F) {
	for _, s := range [][3]string{{"shop", "web", "3f2a9c1"}, {"", "", ""}, {"A.-B", "__", "../x"}, {"a", strings.Repeat("b", 300), "-"}, {"é", "ß", "ü"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, app, service, rev string) {
		tag := Tag(app, service, rev)
		ref, err := reference.ParseNormalizedNamed(tag)
		if err != nil {
			t.Fatalf("Tag(%q, %q, %q) = %q: %v", app, service, rev, tag, err)
		}
		if _, ok := ref.(reference.NamedTagged); !ok || reference.FamiliarString(ref) != tag || strings.Contains(reference.FamiliarName(ref), "/") {
			t.Fatalf("Tag(%q, %q, %q) = %q parses as %v", app, service, rev, tag, ref)
		}
	})
}
