package static

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStrip: a script loses its line comments, blank lines and
// indentation; code, comments after code and /* */ comments stay.
func TestStrip(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"comments and blanks go", "// head\n\n  // inner\nvar a = 1;\n", "var a = 1;\n"},
		{"indentation goes", "(function () {\n    if (x) {\n\t\ty();\n    }\n})();\n", "(function () {\nif (x) {\ny();\n}\n})();\n"},
		{"a comment after code stays", "f(); // why\n", "f(); // why\n"},
		{"a block comment stays", "var C = /*CONFIG*/{};\n", "var C = /*CONFIG*/{};\n"},
		{"a URL in a string stays", `var u = "http://www.w3.org/2000/svg";` + "\n", `var u = "http://www.w3.org/2000/svg";` + "\n"},
		{"no final newline", "  a();", "a();"},
		{"CRLF lines", "// c\r\n  a();\r\n", "a();\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, string(Strip([]byte(tt.in)))); diff != "" {
				t.Errorf("Strip(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestStrippedScripts: what a brand's page ships is served stripped, with
// the mark the window puts its settings in; the window's own scripts are
// served as they are.
func TestStrippedScripts(t *testing.T) {
	a, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"embed.js", "frame.js", "chat.js"} {
		as, ok := a.Lookup(a.Hashed(name))
		if !ok {
			t.Fatalf("%s is not embedded", name)
		}
		comments := bytes.Contains(as.Body, []byte("\n//")) || bytes.Contains(as.Body, []byte("\n  "))
		if comments != !stripped[name] {
			t.Errorf("%s: comment lines or indentation %v, want %v", name, comments, !stripped[name])
		}
	}
	embed, _ := a.Lookup(a.Hashed("embed.js"))
	if !bytes.Contains(embed.Body, []byte("/*CONFIG*/{}")) {
		t.Error("embed.js lost the mark of its settings")
	}
}
