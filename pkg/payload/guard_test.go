package payload

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestGuard(t *testing.T) {
	needle := "/home/ci/build/venv"
	tests := []struct {
		name, content string
		hit           bool
	}{
		{"clean", strings.Repeat("x", 10000), false},
		{"plain", "#!" + needle + "/bin/python\n", true},
		{"spanning reads", strings.Repeat("y", 4093) + needle + "/lib", true},
		{"prefix only", "/home/ci/build/ven", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGuard(needle, "")
			open := g.wrap("/opt/x/f", func() (io.ReadCloser, error) {
				// one byte at a time, so every match spans reads
				return io.NopCloser(iotest.OneByteReader(strings.NewReader(tt.content))), nil
			})
			rc, _ := open()
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatal(err)
			}
			err := g.Err()
			if (err != nil) != tt.hit {
				t.Fatalf("got %v, want hit=%v", err, tt.hit)
			}
			if tt.hit && !strings.Contains(err.Error(), "/opt/x/f") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}
