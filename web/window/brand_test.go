package window

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBrandCheck: the brand's settings get their defaults, the text colour
// that reads best on the brand's colour, and a clear refusal for what
// would be unreadable, unsafe or wrong.
func TestBrandCheck(t *testing.T) {
	tests := []struct {
		name    string
		in      Brand
		want    Brand
		wantErr string // a part of the error; "": none
	}{
		{"defaults", Brand{}, Brand{Title: DefaultTitle, Position: "right"}, ""},
		{"trimmed", Brand{Title: "  Acme  ", Greeting: " Hi! ", Position: "left"}, Brand{Title: "Acme", Greeting: "Hi!", Position: "left"}, ""},
		{"a dark colour gets white text", Brand{Color: "#2F5D3A"}, Brand{Title: DefaultTitle, Position: "right", Color: "#2f5d3a", TextColor: lightText}, ""},
		{"a light colour gets dark text", Brand{Color: "#fc0"}, Brand{Title: DefaultTitle, Position: "right", Color: "#ffcc00", TextColor: darkText}, ""},
		{"a readable text colour is kept", Brand{Color: "#ffffff", TextColor: "#1a56c7"}, Brand{Title: DefaultTitle, Position: "right", Color: "#ffffff", TextColor: "#1a56c7"}, ""},
		{"an unreadable text colour", Brand{Color: "#ffffff", TextColor: "#ffcc00"}, Brand{}, "contrast of 1.5:1"},
		{"a text colour alone", Brand{TextColor: "#000000"}, Brand{}, "without a brand colour"},
		{"a colour name", Brand{Color: "green"}, Brand{}, `"green": want #rgb or #rrggbb`},
		{"a colour without its #", Brand{Color: "2f5d3a"}, Brand{}, "want #rgb"},
		{"CSS in a colour", Brand{Color: "#fff; } body { display: none"}, Brand{}, "want #rgb"},
		{"a corner that is not one", Brand{Position: "top"}, Brand{}, `position "top"`},
		{"a long title", Brand{Title: strings.Repeat("a", 61)}, Brand{}, "61 characters, at most 60"},
		{"a title of two lines", Brand{Title: "Acme\nChat"}, Brand{}, "not printable"},
		{"a greeting with a control", Brand{Greeting: "Hi\u202e"}, Brand{}, "not printable"},
		{"a logo without its type", Brand{Logo: []byte("x")}, Brand{}, "no media type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.in
			err := b.Check()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Check(%+v) = %v, want an error with %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check(%+v): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, b); diff != "" {
				t.Errorf("Check(%+v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestContrast: WCAG 2.1's contrast ratios of known pairs.
func TestContrast(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#767676", "#ffffff", 4.54},
		{"#1a56c7", "#ffffff", 6.56},
	}
	for _, tt := range tests {
		got := contrast(must(parseColor(tt.a)), must(parseColor(tt.b)))
		if math.Abs(got-tt.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.3f, want %.2f", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestLogoType: a logo's media type from its name, checked against its
// bytes.
func TestLogoType(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	tests := []struct {
		name    string
		file    string
		data    []byte
		want    string
		wantErr string
	}{
		{"png", "logo.PNG", png, "image/png", ""},
		{"svg", "logo.svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), "image/svg+xml", ""},
		{"a png named jpg", "logo.jpg", png, "", "not image/jpeg"},
		{"a text named svg", "logo.svg", []byte("hello"), "", "not an SVG"},
		{"an unknown kind", "logo.bmp", []byte("BM"), "", "want a .png"},
		{"empty", "logo.png", nil, "", "empty"},
		{"too big", "logo.png", append(png, make([]byte, maxLogo)...), "", "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LogoType(tt.file, tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("LogoType(%s) = %q, %v, want an error with %q", tt.file, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("LogoType(%s) = %q, %v, want %q", tt.file, got, err, tt.want)
			}
		})
	}
}
