package protocol

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// addGoldenSeeds seeds a fuzz corpus with the golden inputs, so that the
// fuzzer starts from real frames and bodies.
func addGoldenSeeds(f *testing.F, add func([]byte)) {
	f.Helper()
	ins, err := filepath.Glob(filepath.Join("testdata", "golden", "*.in.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range ins {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// FuzzParseFrame checks that no input makes ParseFrame panic, that every
// refusal is ErrMalformed, and that whatever decodes re-encodes without
// error to a frame that decodes and re-encodes to the same bytes. When the
// body decodes into the struct of the frame's type, that re-encoding must
// succeed and be a fixed point too.
func FuzzParseFrame(f *testing.F) {
	addGoldenSeeds(f, func(b []byte) { f.Add(b) })
	for _, s := range []string{``, `{}`, `null`, `[]`, `"x"`, `{"kind":"req"}`, `{"kind":"resp","reqId":5}`,
		`{"kind":"req","id":"5","type":"x","body":`, `{"kind":"foo","type":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ParseFrame(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out, err := Marshal(fr)
		if err != nil {
			t.Fatalf("decoded %q but cannot re-encode %#v: %v", data, fr, err)
		}
		fr2, err := ParseFrame(out)
		if err != nil {
			t.Fatalf("re-encoding %s does not parse: %v", out, err)
		}
		out2, err := Marshal(fr2)
		if err != nil {
			t.Fatalf("second re-encode: %v", err)
		}
		if string(out) != string(out2) {
			t.Fatalf("envelope is not a fixed point:\n%s\n%s", out, out2)
		}
		typed, err := reencode(out)
		if err != nil {
			return // no typed body for the type, or a body of the wrong shape
		}
		typed2, err := reencode(typed)
		if err != nil {
			t.Fatalf("typed re-encoding %s does not decode again: %v", typed, err)
		}
		if string(typed) != string(typed2) {
			t.Fatalf("typed re-encoding is not a fixed point:\n%s\n%s", typed, typed2)
		}
	})
}

// allBodyTypes lists every typed body constructor of the tests, in a fixed
// order, for FuzzDecodeBody to pick from.
func allBodyTypes() []func() any {
	var names []string
	all := map[string]func() any{}
	for _, m := range []map[string]func() any{bodyTypes, respTypes, httpTypes} {
		for _, mk := range m {
			if mk() == nil {
				continue
			}
			name := reflect.TypeOf(mk()).String()
			if _, ok := all[name]; !ok {
				names = append(names, name)
				all[name] = mk
			}
		}
	}
	slices.Sort(names)
	out := make([]func() any, 0, len(names))
	for _, n := range names {
		out = append(out, all[n])
	}
	return append(out, func() any { return new(Event) })
}

// FuzzDecodeBody decodes any input into one of the typed bodies (chosen by
// which) and checks that whatever decodes encodes, and that encoding is a
// fixed point of decode∘encode.
func FuzzDecodeBody(f *testing.F) {
	types := allBodyTypes()
	addGoldenSeeds(f, func(b []byte) {
		fr, err := ParseFrame(b)
		if err != nil || len(fr.Body) == 0 {
			f.Add(b, uint8(0))
			return
		}
		for i := range types {
			f.Add([]byte(fr.Body), uint8(i))
		}
	})
	for _, s := range []string{
		`{"type":"ContentEvent","message":{"a":1}}`,
		`{"type":".ams.ms.RichContentEvent","message":"x"}`,
		`{"type":"AcceptStatusEvent","sequenceList":"3"}`,
		`{"participants":{"CONSUMER":"a"},"participantsPId":{}}`,
		`{"type":".ams. .ms.ContentEvent","message":"x"}`,
		`{"type":"ContentEvent","contentType":"hosted/file","message":{"caption":"c","relativePath":"/p","fileType":"PNG","preview":"data:,"}}`,
		`{"type":"ContentEvent","contentType":"HostedFile","message":{"caption":1}}`,
	} {
		f.Add([]byte(s), uint8(len(types)-1))
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		mk := types[int(which)%len(types)]
		v := mk()
		if err := json.Unmarshal(data, v); err != nil {
			return
		}
		out, err := Marshal(v)
		if err != nil {
			t.Fatalf("decoded %q into %T but cannot encode: %v", data, v, err)
		}
		v2 := mk()
		if err := json.Unmarshal(out, v2); err != nil {
			t.Fatalf("encoding %s of %T does not decode: %v", out, v, err)
		}
		out2, err := Marshal(v2)
		if err != nil {
			t.Fatalf("second encode of %T: %v", v, err)
		}
		if string(out) != string(out2) {
			t.Fatalf("%T: encoding is not a fixed point:\n%s\n%s", v, out, out2)
		}
	})
}
