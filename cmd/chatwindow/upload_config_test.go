package main

import (
	"io"
	"strings"
	"testing"
)

// TestMaxUploadSetting: -max-upload and CHATWINDOW_MAX_UPLOAD: LivePerson's
// 3 MB by default, lower, 0 for no files (the web layer's -1); more than
// 3 MB or a negative size is an error naming the flag.
func TestMaxUploadSetting(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  string
		want int64
		err  string
	}{
		{want: 3 << 20},
		{args: []string{"-max-upload", "1048576"}, want: 1 << 20},
		{env: "500000", want: 500000},
		{args: []string{"-max-upload", "0"}, want: -1},
		{args: []string{"-max-upload", "3145729"}, err: "-max-upload 3145729"},
		{env: "-5", err: "-max-upload -5"},
	} {
		c, err := parseWindow(tt.args, func(k string) string {
			if k == "CHATWINDOW_MAX_UPLOAD" {
				return tt.env
			}
			return ""
		}, io.Discard)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q %q: %v, want an error with %q", tt.args, tt.env, err, tt.err)
			}
		case err != nil:
			t.Errorf("%q %q: %v", tt.args, tt.env, err)
		case c.maxUpload != tt.want:
			t.Errorf("%q %q: %d, want %d", tt.args, tt.env, c.maxUpload, tt.want)
		}
	}
}
