package rpm

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Sense holds rpm's RPMSENSE_* dependency flags: the comparison of a
// versioned relation and, for requirements, when it is needed.
type Sense uint32

// Dependency flags, with rpm's values (include/rpm/rpmds.h).
const (
	SenseAny          Sense = 0
	SenseLess         Sense = 1 << 1
	SenseGreater      Sense = 1 << 2
	SenseEqual        Sense = 1 << 3
	SensePostTrans    Sense = 1 << 5 // %posttrans interpreter
	SensePrereq       Sense = 1 << 6
	SensePreTrans     Sense = 1 << 7 // %pretrans interpreter
	SenseInterp       Sense = 1 << 8 // scriptlet interpreter
	SenseScriptPre    Sense = 1 << 9
	SenseScriptPost   Sense = 1 << 10
	SenseScriptPreun  Sense = 1 << 11
	SenseScriptPostun Sense = 1 << 12
	SenseRPMLib       Sense = 1 << 24
	SenseConfig       Sense = 1 << 28 // config(name) dependencies

	// SenseMask selects the comparison bits of a Sense.
	SenseMask Sense = SenseLess | SenseGreater | SenseEqual
)

// Relation is one dependency: a capability name, optionally compared with a
// version.
type Relation struct {
	Name    string
	Flags   Sense
	Version string // an EVR string ("1.2-3", "1:2.0"), "" for none
}

var senseOps = []struct {
	op    string
	sense Sense
}{
	{"<=", SenseLess | SenseEqual},
	{">=", SenseGreater | SenseEqual},
	{"==", SenseEqual},
	{"=", SenseEqual},
	{"<", SenseLess},
	{">", SenseGreater},
}

// ParseRelation parses "name" or "name OP version", where OP is one of
// < <= = == >= >, as in a spec file: "foo", "foo >= 1.2",
// "libpq.so.5()(64bit)", "python3dist(x) = 1". A rich dependency, one in
// parentheses such as "(a or b)", is kept whole as the name.
func ParseRelation(s string) (Relation, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") && strings.ContainsAny(s, " \t") {
		return Relation{Name: s}, nil
	}
	f := strings.Fields(s)
	var r Relation
	switch len(f) {
	case 1:
		r.Name = f[0]
	case 3:
		r.Name, r.Version = f[0], f[2]
		for _, o := range senseOps {
			if f[1] == o.op {
				r.Flags = o.sense
				break
			}
		}
		if r.Flags == 0 {
			return Relation{}, fmt.Errorf("rpm: relation %q: unknown operator %q", s, f[1])
		}
	default:
		return Relation{}, fmt.Errorf("rpm: relation %q: want \"name\" or \"name OP version\"", s)
	}
	if err := r.validate(); err != nil {
		return Relation{}, fmt.Errorf("rpm: relation %q: %w", s, err)
	}
	return r, nil
}

// String formats r as ParseRelation reads it.
func (r Relation) String() string {
	op := ""
	switch r.Flags & SenseMask {
	case SenseLess:
		op = "<"
	case SenseLess | SenseEqual:
		op = "<="
	case SenseEqual:
		op = "="
	case SenseGreater | SenseEqual:
		op = ">="
	case SenseGreater:
		op = ">"
	}
	if op == "" || r.Version == "" {
		return r.Name
	}
	return r.Name + " " + op + " " + r.Version
}

// isRich reports whether r is a rich (boolean) dependency.
func (r Relation) isRich() bool { return strings.HasPrefix(r.Name, "(") }

func (r Relation) validate() error {
	if r.Name == "" {
		return fmt.Errorf("empty name")
	}
	if !r.isRich() {
		if strings.ContainsAny(r.Name, " \t\n<>=") {
			return fmt.Errorf("name %q contains blanks or an operator", r.Name)
		}
		if !strings.ContainsAny(r.Name[:1], "_/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") {
			return fmt.Errorf("name %q must start with a letter, digit, '_' or '/'", r.Name)
		}
	} else if r.Flags&SenseMask != 0 || r.Version != "" {
		return fmt.Errorf("rich dependency %q cannot have a version", r.Name)
	}
	hasOp := r.Flags&SenseMask != 0
	switch {
	case hasOp && r.Version == "":
		return fmt.Errorf("comparison without a version")
	case !hasOp && r.Version != "":
		return fmt.Errorf("version %q without a comparison", r.Version)
	case r.Version != "":
		if err := checkEVR(r.Version); err != nil {
			return err
		}
	}
	return nil
}

// checkEVR checks an [epoch:]version[-release] string.
func checkEVR(evr string) error {
	v := evr
	if i := strings.IndexByte(v, ':'); i >= 0 {
		for _, c := range v[:i] {
			if c < '0' || c > '9' {
				return fmt.Errorf("version %q: epoch must be a number", evr)
			}
		}
		if i == 0 {
			return fmt.Errorf("version %q: empty epoch", evr)
		}
		v = v[i+1:]
	}
	if strings.Count(v, "-") > 1 {
		return fmt.Errorf("version %q: more than one '-'", evr)
	}
	if v == "" || strings.HasPrefix(v, "-") || strings.HasSuffix(v, "-") {
		return fmt.Errorf("version %q: empty version or release", evr)
	}
	for _, c := range v {
		if !isVersionChar(c) && c != '-' {
			return fmt.Errorf("version %q: illegal character %q", evr, c)
		}
	}
	return nil
}

// isVersionChar reports whether rpm accepts c in a version or release.
func isVersionChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.ContainsRune("._+~^", c)
}

// compareRelations orders relations as rpm's rpmds sets do: by name, then
// version, then flags (strcmp, strcmp, numeric).
func compareRelations(a, b Relation) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := strings.Compare(a.Version, b.Version); c != 0 {
		return c
	}
	return cmp.Compare(a.Flags, b.Flags)
}

// sortRelations returns rs sorted the rpm way with exact duplicates removed.
func sortRelations(rs []Relation) []Relation {
	out := slices.Clone(rs)
	slices.SortFunc(out, compareRelations)
	return slices.CompactFunc(out, func(a, b Relation) bool { return compareRelations(a, b) == 0 })
}

// putRelations writes the name/version/flags triple of tags for rs, or nothing
// if rs is empty.
func putRelations(h *header, nameTag, versionTag, flagsTag uint32, rs []Relation) {
	if len(rs) == 0 {
		return
	}
	names := make([]string, len(rs))
	versions := make([]string, len(rs))
	flags := make([]uint32, len(rs))
	for i, r := range rs {
		names[i], versions[i], flags[i] = r.Name, r.Version, uint32(r.Flags)
	}
	h.putStrings(nameTag, names)
	h.putStrings(versionTag, versions)
	h.putInt32(flagsTag, flags...)
}
