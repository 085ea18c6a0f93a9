package channel

import (
	"errors"
	"strings"
	"testing"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }
func contains(s, sub string) bool     { return strings.Contains(s, sub) }

func TestCompareEVR(t *testing.T) {
	p := func(e, v, r string) Package { return Package{Epoch: e, Version: v, Release: r} }
	if compareEVR(p("1", "1.0", "1"), p("", "9.0", "1")) != 1 {
		t.Error("epoch wins")
	}
	if compareEVR(p("", "1.0", "10"), p("0", "1.0", "9")) != 1 {
		t.Error("release 10 > 9; epoch \"\" == 0")
	}
}

func TestMatchSpec(t *testing.T) {
	pk := &Package{Name: "my-app", Epoch: "2", Version: "1.0", Release: "3.el9", Arch: "x86_64"}
	for spec, want := range map[string]bool{
		"my-app": true, "my-app-1.0": true, "my-app-2:1.0": true, "my-app-1.0-3.el9": true,
		"my-app-1.0-3.el9.x86_64": true, "my-app-2:1.0-3.el9.x86_64": true, "my-app.x86_64": true,
		"my-app-1.0.x86_64": true,
		"my":                false, "my-app-1": false, "my-app-1.0-3": false, "my-app-x86_64": false, "app": false,
		"my-app-1.0-3.el9.noarch": false,
	} {
		if got := matchSpec(pk, spec); got != want {
			t.Errorf("matchSpec(%q) = %v, want %v", spec, got, want)
		}
	}
}
