// Package rpmver orders versions exactly as rpm does (rpmio/rpmvercmp.c,
// '~' and '^' included). go-rpmutils' Vercmp predates '^', so every part of
// rpmforge that orders versions (repo metadata, channels, inventory drift)
// uses this one.
package rpmver

import "strings"

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

// CompareEVR orders epoch:version-release triples as rpm does: the epoch
// numerically, then version and release with Vercmp.
func CompareEVR(e1 int64, v1, r1 string, e2 int64, v2, r2 string) int {
	if e1 != e2 {
		if e1 > e2 {
			return 1
		}
		return -1
	}
	if c := Vercmp(v1, v2); c != 0 {
		return c
	}
	return Vercmp(r1, r2)
}
