package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/dto"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/store"
)

// notExposed lists the fields deliberately not carried across the edge,
// as "Type.Field" of the side that has them, with why.
var notExposed = map[string]string{
	"store.Release.SecretFiles": "the content of Compose secrets: sealed apart by the store, never in a release's JSON",
	"store.User.PasswordHash":   "a password's hash never leaves the server",
	"store.Session.TokenSum":    "a token session's hash of its token never leaves the server",
}

// oldCloneRequest is the clone body as it was (the deployer's options
// embedded): the wire must not change.
type oldCloneRequest struct {
	To string `json:"to"`
	deploy.CloneOptions
}

// TestConvert_KeepsEveryField converts a value with every field set
// (and the zero value) across the edge, and checks that each field
// arrives under the same name and JSON tag with the same value, and that
// both sides marshal to the same JSON: the wire format is the one the
// store's and the deployer's types had.
func TestConvert_KeepsEveryField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		test func(t *testing.T)
	}{
		{"release", edge(releaseDTO)},
		{"deployment", edge(deploymentDTO)},
		{"progress", edge(progressDTO)},
		{"env status", edge(envStatusDTO)},
		{"volume", edge(volumeDTO)},
		{"event", edge(eventDTO)},
		{"prune report", edge(pruneReportDTO)},
		{"registry", edge(registryDTO)},
		{"node", edge(nodeDTO)},
		{"node change", edge(nodeChangeDTO)},
		{"notify target", edge(notifyTargetDTO)},
		{"build", edge(buildDTO)},
		{"token", edge(tokenDTO)},
		{"audit entry", edge(auditDTO)},
		{"user", edge(userDTO)},
		{"session", edge(sessionDTO)},
		{"deploy options", edge(deployOptions)},
		{"remove request", edge(removeOptions)},
		{"notify target request", edge(notifyTarget)},
		{"build request", edge(buildRequest)},
		{"clone request", edge(func(r dto.CloneRequest) oldCloneRequest {
			return oldCloneRequest{To: r.To, CloneOptions: cloneOptions(r)}
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.test)
	}
}

// edge tests the conversion f.
func edge[S, D any](f func(S) D) func(t *testing.T) {
	return func(t *testing.T) {
		var zero S
		sameJSON(t, zero, f(zero))
		var src S
		fill(reflect.ValueOf(&src).Elem(), new(int))
		dst := f(src)
		sameFields(t, reflect.TypeOf(src).String(), reflect.ValueOf(src), reflect.ValueOf(dst))
		sameJSON(t, src, dst)
	}
}

func sameJSON(t *testing.T, src, dst any) {
	t.Helper()
	decode := func(v any) any {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal %T: %v", v, err)
		}
		var out any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if m, ok := out.(map[string]any); ok {
			delete(m, "password_hash") // store.User's, not exposed (notExposed)
			delete(m, "token_sum")     // store.Session's, not exposed (notExposed)
		}
		return out
	}
	if a, b := decode(src), decode(dst); !reflect.DeepEqual(a, b) {
		sa, _ := json.Marshal(src)
		sb, _ := json.Marshal(dst)
		t.Errorf("%T and %T marshal differently:\n%s\n%s", src, dst, sa, sb)
	}
}

// fill sets every exported field of v to a value that is not zero (and
// differs from its neighbours'); types of spec, which both sides share,
// get their top-level scalar fields set only.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), n)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(*n) * time.Second)))
			return
		}
		shared := strings.HasSuffix(v.Type().PkgPath(), "/internal/spec")
		for i := range v.NumField() {
			f := v.Field(i)
			if !v.Type().Field(i).IsExported() {
				continue
			}
			if shared && (f.Kind() == reflect.Struct || f.Kind() == reflect.Slice || f.Kind() == reflect.Map || f.Kind() == reflect.Pointer) {
				continue
			}
			fill(f, n)
		}
	}
}

// sameFields checks that dst carries every field of src and src every
// field of dst, by name and JSON tag, with equal values.
func sameFields(t *testing.T, path string, src, dst reflect.Value) {
	t.Helper()
	if src.Type() == dst.Type() {
		if !reflect.DeepEqual(src.Interface(), dst.Interface()) {
			t.Errorf("%s: %v became %v", path, src, dst)
		}
		return
	}
	if src.Kind() != dst.Kind() {
		t.Errorf("%s: a %s became a %s", path, src.Type(), dst.Type())
		return
	}
	switch src.Kind() {
	case reflect.Struct:
		for _, sf := range reflect.VisibleFields(src.Type()) {
			if sf.Anonymous || !sf.IsExported() {
				continue
			}
			key := src.Type().String() + "." + sf.Name
			if _, ok := notExposed[key]; ok {
				continue
			}
			df, ok := dst.Type().FieldByName(sf.Name)
			if !ok {
				t.Errorf("%s.%s: %s has no field %s: add it there and to its conversion (api/convert.go), or list %q in notExposed with why", path, sf.Name, dst.Type(), sf.Name, key)
				continue
			}
			if st, dt := sf.Tag.Get("json"), df.Tag.Get("json"); st != dt {
				t.Errorf("%s.%s: JSON tag %q became %q", path, sf.Name, st, dt)
			}
			sameFields(t, path+"."+sf.Name, src.FieldByIndex(sf.Index), dst.FieldByIndex(df.Index))
		}
		for _, df := range reflect.VisibleFields(dst.Type()) {
			if df.Anonymous || !df.IsExported() {
				continue
			}
			if _, ok := src.Type().FieldByName(df.Name); !ok {
				if _, skip := notExposed[dst.Type().String()+"."+df.Name]; !skip {
					t.Errorf("%s: %s has a field %s that %s lacks", path, dst.Type(), df.Name, src.Type())
				}
			}
		}
	case reflect.Pointer:
		if src.IsNil() != dst.IsNil() {
			t.Errorf("%s: nil %v became nil %v", path, src.IsNil(), dst.IsNil())
		} else if !src.IsNil() {
			sameFields(t, path, src.Elem(), dst.Elem())
		}
	case reflect.Slice:
		if src.IsNil() != dst.IsNil() || src.Len() != dst.Len() {
			t.Errorf("%s: %d elements (nil %v) became %d (nil %v)", path, src.Len(), src.IsNil(), dst.Len(), dst.IsNil())
			return
		}
		for i := range src.Len() {
			sameFields(t, fmt.Sprintf("%s[%d]", path, i), src.Index(i), dst.Index(i))
		}
	case reflect.Map:
		if src.IsNil() != dst.IsNil() || src.Len() != dst.Len() {
			t.Errorf("%s: %d entries (nil %v) became %d (nil %v)", path, src.Len(), src.IsNil(), dst.Len(), dst.IsNil())
			return
		}
		for _, k := range src.MapKeys() {
			dv := dst.MapIndex(k.Convert(dst.Type().Key()))
			if !dv.IsValid() {
				t.Errorf("%s[%v]: missing", path, k)
				continue
			}
			sameFields(t, fmt.Sprintf("%s[%v]", path, k), src.MapIndex(k), dv)
		}
	case reflect.String:
		if src.String() != dst.String() {
			t.Errorf("%s: %q became %q", path, src.String(), dst.String())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if src.Int() != dst.Int() {
			t.Errorf("%s: %d became %d", path, src.Int(), dst.Int())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if src.Uint() != dst.Uint() {
			t.Errorf("%s: %d became %d", path, src.Uint(), dst.Uint())
		}
	case reflect.Float32, reflect.Float64:
		if src.Float() != dst.Float() {
			t.Errorf("%s: %v became %v", path, src.Float(), dst.Float())
		}
	case reflect.Bool:
		if src.Bool() != dst.Bool() {
			t.Errorf("%s: %v became %v", path, src.Bool(), dst.Bool())
		}
	default:
		t.Errorf("%s: cannot compare a %s", path, src.Kind())
	}
}

// Every kind of deployment the store records has its constant on the
// wire, with the same value.
func TestConvert_DeploymentKindsMatch(t *testing.T) {
	t.Parallel()
	wire := []dto.DeploymentKind{dto.KindDeploy, dto.KindCanary, dto.KindPromote, dto.KindRollback, dto.KindRemove, dto.KindScale}
	if len(wire) != len(store.DeploymentKinds) {
		t.Fatalf("store kinds %v, dto kinds %v", store.DeploymentKinds, wire)
	}
	for i, k := range store.DeploymentKinds {
		if string(k) != string(wire[i]) {
			t.Errorf("store kind %q is %q in dto", k, wire[i])
		}
	}
}
