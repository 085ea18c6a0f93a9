package rpm

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Change is one %changelog entry.
type Change struct {
	Time   time.Time
	Author string // "Name <email> - version-release", as rpmbuild stores it
	Text   string
}

// Scripts holds scriptlet bodies. The interpreter is /bin/sh; "" means the
// scriptlet is absent.
type Scripts struct {
	Pre, Post, PreUn, PostUn, PreTrans, PostTrans string
}

// Metadata describes the package as a whole.
type Metadata struct {
	Name, Version, Release string
	Epoch                  *uint32
	Arch, OS               string // OS default "linux"

	// Summary and License are required. Description defaults to Summary,
	// Group to "Unspecified", BuildHost to "localhost" (rpmlint wants one),
	// SourceRPM to "Name-Version-Release.src.rpm" (rpm treats a package
	// without SOURCERPM as a source package).
	Summary, Description, License, URL, Vendor, Packager, Group, BuildHost, SourceRPM, VCS string

	BuildTime time.Time // zero → BUILDTIME tag omitted (reproducible)

	Provides, Requires, Conflicts, Obsoletes, Recommends, Suggests, Supplements, Enhances []Relation

	Changelog []Change // newest first
	Scripts   Scripts

	// Compression of the payload: "gzip" (default, level 6), "gzip:N" (1-9),
	// "xz" (level 6), "xz:N" (0-9), "zstd" (level 3), "zstd:N" (1-22),
	// "none".
	Compression string
}

// Validate checks md and names the first offending field:
// `rpm: metadata field "version": must not contain '-'`.
func (m *Metadata) Validate() error {
	return m.validate()
}

// fieldError is a metadata validation error naming its field.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string {
	return fmt.Sprintf("rpm: metadata field %q: %s", e.field, e.msg)
}

func bad(field, format string, args ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

func (m *Metadata) validate() error {
	if err := checkToken("name", m.Name, "-._+", true); err != nil {
		return err
	}
	if strings.ContainsAny(m.Name[:1], "-.+") {
		return bad("name", "must start with a letter, digit or '_'")
	}
	for _, f := range []struct{ name, v string }{{"version", m.Version}, {"release", m.Release}} {
		if strings.Contains(f.v, "-") {
			return bad(f.name, "must not contain '-'")
		}
		if err := checkToken(f.name, f.v, "._+~^", false); err != nil {
			return err
		}
	}
	if err := checkToken("arch", m.Arch, "_", true); err != nil {
		return err
	}
	if m.OS != "" {
		if err := checkToken("os", m.OS, "_", true); err != nil {
			return err
		}
	}
	if strings.TrimSpace(m.Summary) == "" {
		return bad("summary", "must not be empty")
	}
	if strings.ContainsAny(m.Summary, "\r\n") {
		return bad("summary", "must be one line")
	}
	if strings.TrimSpace(m.License) == "" {
		return bad("license", "must not be empty")
	}
	for _, f := range []struct{ name, v string }{
		{"summary", m.Summary}, {"description", m.Description}, {"license", m.License},
		{"url", m.URL}, {"vendor", m.Vendor}, {"packager", m.Packager}, {"group", m.Group},
		{"buildhost", m.BuildHost}, {"sourcerpm", m.SourceRPM}, {"vcs", m.VCS},
		{"scripts.pre", m.Scripts.Pre}, {"scripts.post", m.Scripts.Post},
		{"scripts.preun", m.Scripts.PreUn}, {"scripts.postun", m.Scripts.PostUn},
		{"scripts.pretrans", m.Scripts.PreTrans}, {"scripts.posttrans", m.Scripts.PostTrans},
	} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, v string }{
		{"license", m.License}, {"url", m.URL}, {"vendor", m.Vendor}, {"packager", m.Packager},
		{"group", m.Group}, {"buildhost", m.BuildHost}, {"sourcerpm", m.SourceRPM}, {"vcs", m.VCS},
	} {
		if strings.ContainsAny(f.v, "\r\n") {
			return bad(f.name, "must be one line")
		}
	}
	if t := m.BuildTime.Unix(); !m.BuildTime.IsZero() && (t < 0 || t > 1<<32-1) {
		return bad("buildtime", "%s is outside the 32-bit range rpm stores", m.BuildTime)
	}
	for _, d := range []struct {
		name string
		rs   []Relation
	}{
		{"provides", m.Provides}, {"requires", m.Requires}, {"conflicts", m.Conflicts},
		{"obsoletes", m.Obsoletes}, {"recommends", m.Recommends}, {"suggests", m.Suggests},
		{"supplements", m.Supplements}, {"enhances", m.Enhances},
	} {
		for _, r := range d.rs {
			if err := r.validate(); err != nil {
				return bad(d.name, "%s: %v", r, err)
			}
			if err := checkText(d.name, r.Name+r.Version); err != nil {
				return err
			}
			if d.name != "requires" && strings.HasPrefix(r.Name, "rpmlib(") {
				return bad(d.name, "%s: rpmlib() dependencies are only allowed in requires", r)
			}
		}
	}
	for i, c := range m.Changelog {
		field := fmt.Sprintf("changelog[%d]", i)
		switch {
		case c.Time.Unix() <= 0 || c.Time.Unix() > 1<<32-1:
			return bad(field, "time %s is outside the 32-bit range rpm stores", c.Time)
		case strings.TrimSpace(c.Author) == "" || strings.ContainsAny(c.Author, "\r\n"):
			return bad(field, "author must be one non-empty line")
		case strings.TrimSpace(c.Text) == "":
			return bad(field, "text must not be empty")
		case i > 0 && c.Time.After(m.Changelog[i-1].Time):
			return bad(field, "entries must be newest first (%s is newer than the entry before)", c.Time.Format(time.DateOnly))
		}
		if err := checkText(field, c.Author+c.Text); err != nil {
			return err
		}
	}
	if _, err := parseCompression(m.Compression); err != nil {
		return err
	}
	return nil
}

// checkToken checks a required (or, if optional, possibly empty) word made of
// letters, digits and the extra characters.
func checkToken(field, v, extra string, required bool) error {
	if v == "" {
		if required || field == "version" || field == "release" {
			return bad(field, "must not be empty")
		}
		return nil
	}
	for _, c := range v {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(extra, c)
		if !ok {
			return bad(field, "illegal character %q in %q", c, v)
		}
	}
	return nil
}

// checkText checks that v is valid UTF-8 without NUL bytes (rpm stores
// NUL-terminated strings and declares ENCODING utf-8).
func checkText(field, v string) error {
	if !utf8.ValidString(v) {
		return bad(field, "not valid UTF-8")
	}
	if strings.IndexByte(v, 0) >= 0 {
		return bad(field, "contains a NUL byte")
	}
	return nil
}

// withDefaults returns a copy of m with the documented defaults filled in.
func (m Metadata) withDefaults() Metadata {
	if m.OS == "" {
		m.OS = "linux"
	}
	if m.Description == "" {
		m.Description = m.Summary
	}
	if m.Group == "" {
		m.Group = "Unspecified"
	}
	if m.BuildHost == "" {
		m.BuildHost = "localhost"
	}
	if m.SourceRPM == "" {
		m.SourceRPM = m.Name + "-" + m.Version + "-" + m.Release + ".src.rpm"
	}
	return m
}

// evr returns [epoch:]version-release.
func (m *Metadata) evr() string {
	s := m.Version + "-" + m.Release
	if m.Epoch != nil {
		s = fmt.Sprintf("%d:%s", *m.Epoch, s)
	}
	return s
}
