package channel

import (
	"strconv"
	"strings"

	"github.com/rpmforge/rpmforge/pkg/rpmver"
)

func epochNum(e string) int64 {
	n, _ := strconv.ParseInt(e, 10, 64)
	return n
}

// compareEVR orders two packages by epoch, version and release, as rpm.
func compareEVR(a, b Package) int {
	return rpmver.CompareEVR(epochNum(a.Epoch), a.Version, a.Release, epochNum(b.Epoch), b.Version, b.Release)
}

// matchSpec reports whether p is what spec names: NAME, NAME-VERSION,
// NAME-VERSION-RELEASE or a full NEVRA (NAME-[EPOCH:]VERSION-RELEASE.ARCH),
// or any of those with .ARCH.
func matchSpec(p *Package, spec string) bool {
	if spec == p.Name || spec == p.NEVRA() || spec == p.Name+"."+p.Arch {
		return true
	}
	if !strings.HasPrefix(spec, p.Name+"-") {
		return false
	}
	rest := spec[len(p.Name)+1:]
	if r, ok := strings.CutSuffix(rest, "."+p.Arch); ok && r != "" {
		rest = r
	}
	if rest == p.Arch {
		return false
	}
	vers := []string{p.Version}
	if p.Epoch != "" {
		vers = append(vers, p.Epoch+":"+p.Version)
	}
	for _, v := range vers {
		if rest == v || rest == v+"-"+p.Release {
			return true
		}
	}
	return false
}
