package channel

import (
	"strconv"
	"strings"
)

// Vercmp compares two version (or release) strings as rpm does
// (rpmio/rpmvercmp.c, tilde and caret included): 1 if a is newer, -1 if
// older, 0 if equal.
func Vercmp(a, b string) int {
	if a == b {
		return 0
	}
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isAlpha := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isAlnum := func(c byte) bool { return isDigit(c) || isAlpha(c) }
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		// '~' sorts before everything, even the end of the string.
		at, bt := i < len(a) && a[i] == '~', j < len(b) && b[j] == '~'
		if at || bt {
			if !at {
				return 1
			}
			if !bt {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		// '^' sorts after the end of the string, before anything else.
		ac, bc := i < len(a) && a[i] == '^', j < len(b) && b[j] == '^'
		if ac || bc {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if !ac {
				return 1
			}
			if !bc {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		si, sj := i, j
		numeric := isDigit(a[i])
		seg := isAlpha
		if numeric {
			seg = isDigit
		}
		for i < len(a) && seg(a[i]) {
			i++
		}
		for j < len(b) && seg(b[j]) {
			j++
		}
		sa, sb := a[si:i], b[sj:j]
		if sb == "" {
			// Segments of different kinds: the numeric one is newer.
			if numeric {
				return 1
			}
			return -1
		}
		if numeric {
			sa, sb = strings.TrimLeft(sa, "0"), strings.TrimLeft(sb, "0")
			if len(sa) != len(sb) {
				if len(sa) > len(sb) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	}
	return 1
}

func epochNum(e string) int64 {
	n, _ := strconv.ParseInt(e, 10, 64)
	return n
}

// compareEVR orders two packages by epoch, version and release, as rpm.
func compareEVR(a, b Package) int {
	if ea, eb := epochNum(a.Epoch), epochNum(b.Epoch); ea != eb {
		if ea > eb {
			return 1
		}
		return -1
	}
	if c := Vercmp(a.Version, b.Version); c != 0 {
		return c
	}
	return Vercmp(a.Release, b.Release)
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
