package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse: any input either parses or gives an *Error naming the file,
// on one line; parsing never panics, and a parsed config validates without
// panicking.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"testdata/full.toml", "../../examples/mysite/rpmforge.toml"} {
		if data, err := os.ReadFile(seed); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(base))
	f.Add([]byte("[package\n"))
	f.Add([]byte("[[files]]\ndest = \"/a/../b\"\nmode = \"9\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("/p/rpmforge.toml", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "/p/rpmforge.toml" {
				t.Fatalf("got %T %v, want *Error naming the file", err, err)
			}
			if ce.Line < 0 || ce.Line > strings.Count(string(data), "\n")+1 {
				t.Fatalf("line %d out of range: %v", ce.Line, err)
			}
			return
		}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("validate: got %T %v, want *Error", err, err)
			}
		}
	})
}
