package repo

// rpmvercmp compares two version strings as rpm does (rpmio/rpmvercmp.c):
// 1 if a is newer, -1 if older, 0 if equal.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	isAlpha := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isAlnum := func(c byte) bool { return isAlpha(c) || isDigit(c) }
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		// Tilde sorts before everything, even the end of the string.
		at, bt := i < len(a) && a[i] == '~', j < len(b) && b[j] == '~'
		if at || bt {
			if !at {
				return 1
			}
			if !bt {
				return -1
			}
			i++
			j++
			continue
		}
		// Caret sorts after the end of the string but before anything else.
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
			i++
			j++
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		si, sj := i, j
		numeric := isDigit(a[i])
		if numeric {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		sa, sb := a[si:i], b[sj:j]
		if sb == "" {
			// Segments of different types: numeric is newer.
			if numeric {
				return 1
			}
			return -1
		}
		if numeric {
			for len(sa) > 0 && sa[0] == '0' {
				sa = sa[1:]
			}
			for len(sb) > 0 && sb[0] == '0' {
				sb = sb[1:]
			}
			if len(sa) != len(sb) {
				if len(sa) > len(sb) {
					return 1
				}
				return -1
			}
		}
		if sa != sb {
			if sa > sb {
				return 1
			}
			return -1
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
