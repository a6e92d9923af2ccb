package spec

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
)

func TestDeriveName(t *testing.T) {
	cases := []struct {
		dir, want string
		err       string // a substring of the error, when it must fail
	}{
		{dir: "/home/me/shop", want: "shop"},
		{dir: "shop/", want: "shop"},
		{dir: "/srv/MyShop", want: "myshop"},
		{dir: "/srv/shop.example.com", want: "shopexamplecom"},
		{dir: "/srv/My Shop", want: "myshop"},
		{dir: "/srv/my_shop", want: "my-shop"},
		{dir: "/srv/_shop_", want: "shop"},
		{dir: "/srv/-shop-", want: "shop"},
		{dir: "/srv/shop-v2", want: "shop-v2"},
		{dir: "/srv/Café Müller", want: "cafmller"},
		{dir: "/srv/straße", want: "strae"},
		{dir: "/srv/a-very-long-application-name-that-goes-on-and-on", want: "a-very-long-application-name-that-goes-o"},
		{dir: "/srv/" + strings.Repeat("a", 39) + "_b", want: strings.Repeat("a", 39)},
		{dir: "/srv/日本", err: `the directory name "日本" has no letters or digits`},
		{dir: "/srv/...", err: `the directory name "..." has no letters or digits`},
		{dir: "/srv/___", err: `the directory name "___" has no letters or digits`},
		{dir: "/", err: `the directory name "" has no letters or digits`},
		{dir: "", err: `the directory name "" has no letters or digits`},
		{dir: "/srv/2048", err: `the directory name "2048" gives "2048", but an app name must start with a letter`},
		{dir: "/srv/_3d-viewer", err: `gives "3d-viewer", but an app name must start with a letter`},
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			got, err := DeriveName(tc.dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("DeriveName(%q) = %q, %v; want an error with %q", tc.dir, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("DeriveName(%q) = %q, %v; want %q", tc.dir, got, err, tc.want)
			}
			if msg := checkAppName(got); msg != "" {
				t.Fatalf("derived name is invalid: %s", msg)
			}
		})
	}
}

// Where docker compose's project name is already a valid berth name, the
// derived name is the same, so `docker compose ls` and berth agree.
func TestDeriveName_MatchesComposeWhereValid(t *testing.T) {
	for _, base := range []string{"shop", "Shop", "my.shop", "My Shop", "shop-2", "-shop", "Ünïcode-app", "x"} {
		compose := loader.NormalizeProjectName(base)
		if checkAppName(compose) != "" {
			t.Fatalf("test case %q: compose's name %q is not a valid berth name", base, compose)
		}
		if got, err := DeriveName(filepath.Join("/srv", base)); err != nil || got != compose {
			t.Errorf("DeriveName(%q) = %q, %v; docker compose says %q", base, got, err, compose)
		}
	}
}

// nameCase writes the Compose files (name → content) into a directory
// named dir under a temporary one and returns their paths, the first file
// first.
func nameCase(t *testing.T, dir string, files ...[2]string) []string {
	t.Helper()
	d := filepath.Join(t.TempDir(), dir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(d, f[0])
		if err := os.WriteFile(p, []byte(f[1]), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f[0], ".yaml") {
			paths = append(paths, p)
		}
	}
	return paths
}

func TestResolveName_Precedence(t *testing.T) {
	const services = "services:\n  web:\n    image: nginx\n"
	named := func(n string) [2]string { return [2]string{"compose.yaml", "name: " + n + "\n" + services} }
	unnamed := [2]string{"compose.yaml", services}
	cases := []struct {
		name    string
		dir     string
		files   [][2]string
		opts    LoadOptions // Files are filled in
		want    ResolvedName
		wantErr string
	}{
		{name: "directory", dir: "My Shop", files: [][2]string{unnamed},
			want: ResolvedName{Name: "myshop", Source: NameFromDir}},
		{name: "name: wins over the directory", dir: "shop", files: [][2]string{named("store")},
			want: ResolvedName{Name: "store", Source: NameFromFile}},
		{name: "the last file's name: wins", dir: "shop", files: [][2]string{named("store"), {"override.yaml", "name: outlet\n"}},
			want: ResolvedName{Name: "outlet", Source: NameFromFile}},
		{name: "name: is interpolated", dir: "shop", files: [][2]string{named("${APP}-eu")}, opts: LoadOptions{Environ: map[string]string{"APP": "store"}},
			want: ResolvedName{Name: "store-eu", Source: NameFromFile}},
		{name: "COMPOSE_PROJECT_NAME wins over name:", dir: "shop", files: [][2]string{named("store")},
			opts: LoadOptions{Environ: map[string]string{"COMPOSE_PROJECT_NAME": "outlet"}},
			want: ResolvedName{Name: "outlet", Source: NameFromEnv}},
		{name: "COMPOSE_PROJECT_NAME from .env", dir: "shop", files: [][2]string{named("store"), {".env", "COMPOSE_PROJECT_NAME=outlet\n"}},
			want: ResolvedName{Name: "outlet", Source: NameFromEnv}},
		{name: "the given name wins over everything", dir: "shop", files: [][2]string{named("store")},
			opts: LoadOptions{Name: "given", DefaultName: "default", Environ: map[string]string{"COMPOSE_PROJECT_NAME": "outlet"}},
			want: ResolvedName{Name: "given", Source: NameGiven}},
		{name: "the default instead of the directory", dir: "shop", files: [][2]string{unnamed}, opts: LoadOptions{DefaultName: "default"},
			want: ResolvedName{Name: "default", Source: NameDefault}},
		{name: "name: wins over the default", dir: "shop", files: [][2]string{named("store")}, opts: LoadOptions{DefaultName: "default"},
			want: ResolvedName{Name: "store", Source: NameFromFile}},

		{name: "an invalid given name", dir: "shop", files: [][2]string{unnamed}, opts: LoadOptions{Name: "My_Shop"},
			wantErr: `^"My_Shop" is not a valid app name: use lowercase letters`},
		{name: "an invalid COMPOSE_PROJECT_NAME", dir: "shop", files: [][2]string{unnamed},
			opts:    LoadOptions{Environ: map[string]string{"COMPOSE_PROJECT_NAME": "My_Shop"}},
			wantErr: `^COMPOSE_PROJECT_NAME: "My_Shop" is not a valid app name: .*\(unset it to use the Compose file's name: or directory\)$`},
		{name: "an invalid name: is not rewritten", dir: "shop", files: [][2]string{named("My_Shop")},
			wantErr: `compose.yaml: name: "My_Shop" is not a valid app name`},
		{name: "name: empty once interpolated", dir: "shop", files: [][2]string{named("${APP}")},
			wantErr: `compose.yaml: name: "\$\{APP\}" is empty once its variables are expanded: set them, or remove name: to name the app after the directory$`},
		{name: "a directory that gives no name", dir: "日本", files: [][2]string{unnamed},
			wantErr: `compose.yaml: name: required: the directory name "日本" has no letters or digits to name the app with \(a-z, 0-9\); set a top-level name: for the app \(e.g. name: shop\), or pass one to berth deploy --app$`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Files = nameCase(t, tc.dir, tc.files...)
			got, err := ResolveName(opts)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("ResolveName = %+v, want an error matching %s", got, tc.wantErr)
				}
				msg := strings.ReplaceAll(err.Error(), filepath.Dir(opts.Files[0])+string(filepath.Separator), "")
				if !regexp.MustCompile(tc.wantErr).MatchString(msg) {
					t.Fatalf("error:\n%s\nwant it to match %s", msg, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.Source == NameFromDir {
				tc.want.Dir = filepath.Dir(opts.Files[0])
			}
			if got != tc.want {
				t.Fatalf("ResolveName = %+v, want %+v", got, tc.want)
			}

			// Load names the app the same way.
			app, err := Load(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if app.Name != tc.want.Name {
				t.Fatalf("Load named the app %q, ResolveName %q", app.Name, tc.want.Name)
			}
		})
	}
}

// A bad name given by the caller is reported once, not again as a bad
// name: in the file.
func TestLoad_BadGivenNameIsReportedOnce(t *testing.T) {
	files := nameCase(t, "shop", [2]string{"compose.yaml", "services:\n  web:\n    image: nginx\n"})
	_, err := Load(context.Background(), LoadOptions{Files: files, Name: "-shop"})
	errs, ok := err.(Errors)
	if !ok || len(errs) != 1 || errs[0].File != "" || !strings.HasPrefix(errs[0].Msg, `"-shop" is not a valid app name`) {
		t.Fatalf("want one problem with the given name, got %v", err)
	}
}
