// Package pydist lists the Python distributions installed in a site-packages
// directory by reading their core metadata (*.dist-info/METADATA and
// *.egg-info/PKG-INFO).
//
// The metadata format is the RFC 822-style header block described by the
// Python Packaging core metadata specification; everything after the first
// blank line (the long description) is ignored.
package pydist

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Kinds of installed metadata directories.
const (
	KindDistInfo = "dist-info" // PEP 376 / wheel installs: NAME-VER.dist-info/METADATA
	KindEggInfo  = "egg-info"  // setuptools and distro packages: NAME-VER.egg-info[/PKG-INFO]
)

// Dist is one installed distribution.
type Dist struct {
	Name, Version, Summary, License, HomePage, Author string

	// LicenseExpression is the SPDX License-Expression field (PEP 639), if present.
	LicenseExpression string
	Classifiers       []string
	// RequiresDist lists Requires-Dist values. For egg-info without
	// Requires-Dist fields they are derived from requires.txt the way
	// importlib.metadata does ('pkg>=1; extra == "x"').
	RequiresDist []string
	// MetadataPath is the slash-separated path of METADATA or PKG-INFO
	// relative to the scanned directory; for an egg-info file it is the file.
	MetadataPath string
	Kind         string // KindDistInfo or KindEggInfo
}

// ErrMalformed is matched (errors.Is) by every *MetadataError.
var ErrMalformed = errors.New("pydist: malformed metadata")

// MetadataError reports broken metadata, naming the file and, where known,
// the line.
type MetadataError struct {
	File string // path of the metadata file; empty from ParseMetadata
	Line int    // 1-based line, 0 if not tied to a line
	Msg  string
}

func (e *MetadataError) Error() string {
	var b strings.Builder
	b.WriteString("pydist: ")
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes errors.Is(err, ErrMalformed) true.
func (e *MetadataError) Is(target error) bool { return target == ErrMalformed }

const reinstall = " (reinstall the distribution: pip install --force-reinstall NAME)"

// Normalize returns the PEP 503 normalised form of a project name:
// lowercase, with every run of "-", "_" and "." replaced by one "-".
func Normalize(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			sep = true
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}

// Scan reads the metadata of every distribution directly inside
// sitePackages: *.dist-info/METADATA, *.egg-info/PKG-INFO and *.egg-info
// files (distutils and some distro packages install the metadata as a
// single file). The result is sorted by normalised name, then version and
// metadata path. Any unreadable or broken metadata is an error naming the
// file, since an SBOM or dependency report built from a partial scan would
// be silently wrong.
func Scan(sitePackages string) ([]Dist, error) {
	entries, err := os.ReadDir(sitePackages)
	if err != nil {
		return nil, fmt.Errorf("pydist: scanning site-packages: %w", err)
	}
	var dists []Dist
	for _, e := range entries {
		name := e.Name()
		var kind, meta string
		switch {
		case strings.HasSuffix(name, ".dist-info"):
			kind, meta = KindDistInfo, name+"/METADATA"
		case strings.HasSuffix(name, ".egg-info"):
			kind, meta = KindEggInfo, name+"/PKG-INFO"
		default:
			continue
		}
		full := filepath.Join(sitePackages, name)
		st, err := os.Stat(full) // follow symlinks: the entry may link elsewhere
		if err != nil {
			return nil, fmt.Errorf("pydist: %w", err)
		}
		if !st.IsDir() {
			if kind == KindDistInfo {
				return nil, &MetadataError{File: full, Msg: "not a directory" + reinstall}
			}
			meta = name
		}
		d, err := readDist(sitePackages, meta)
		if err != nil {
			return nil, err
		}
		d.Kind = kind
		if kind == KindEggInfo && st.IsDir() && len(d.RequiresDist) == 0 {
			reqs, err := readRequiresTxt(filepath.Join(full, "requires.txt"))
			if err != nil {
				return nil, err
			}
			d.RequiresDist = reqs
		}
		dists = append(dists, d)
	}
	slices.SortFunc(dists, func(a, b Dist) int {
		return cmp.Or(
			cmp.Compare(Normalize(a.Name), Normalize(b.Name)),
			cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.MetadataPath, b.MetadataPath),
		)
	})
	return dists, nil
}

func readDist(root, rel string) (Dist, error) {
	full := filepath.Join(root, filepath.FromSlash(rel))
	f, err := os.Open(full)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Dist{}, &MetadataError{File: full, Msg: "missing" + reinstall}
		}
		return Dist{}, fmt.Errorf("pydist: %w", err)
	}
	defer f.Close()
	d, err := ParseMetadata(f)
	if me := (*MetadataError)(nil); errors.As(err, &me) {
		me.File = full
		if me.Line == 0 {
			me.Msg += reinstall
		}
		return Dist{}, me
	}
	if err != nil {
		return Dist{}, fmt.Errorf("pydist: %s: %w", full, err)
	}
	d.MetadataPath = rel
	return d, nil
}

// ParseMetadata parses a core metadata header block (METADATA or PKG-INFO).
// Field names are matched case-insensitively; continuation lines (starting
// with a space or tab) are joined to the previous field with "\n". The body
// after the first blank line is not read. Name and Version are required.
// Format errors are *MetadataError values (matching ErrMalformed) with the
// line number; Scan fills in the file.
//
// Fallbacks keep reports useful for newer and older metadata alike: "UNKNOWN"
// (written by old setuptools for absent fields) reads as empty; HomePage falls
// back to a "Project-URL: Homepage, ..." entry and Author to Author-email.
func ParseMetadata(r io.Reader) (Dist, error) {
	var d Dist
	var authorEmail, projectHome string
	br := bufio.NewReader(r)
	var key string   // current field (lowercase), "" before the first
	var val []string // current field's lines
	lineNo := 0
	flush := func() {
		if key == "" {
			return
		}
		v := strings.TrimSpace(strings.Join(val, "\n"))
		if v == "UNKNOWN" {
			v = ""
		}
		switch key {
		case "name":
			d.Name = v
		case "version":
			d.Version = v
		case "summary":
			d.Summary = v
		case "license":
			d.License = v
		case "license-expression":
			d.LicenseExpression = v
		case "home-page":
			d.HomePage = v
		case "author":
			d.Author = v
		case "author-email":
			authorEmail = v
		case "classifier":
			if v != "" {
				d.Classifiers = append(d.Classifiers, v)
			}
		case "requires-dist":
			if v != "" {
				d.RequiresDist = append(d.RequiresDist, v)
			}
		case "project-url":
			label, url, ok := strings.Cut(v, ",")
			if ok && projectHome == "" && urlLabel(label) == "homepage" {
				projectHome = strings.TrimSpace(url)
			}
		}
		key, val = "", nil
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return Dist{}, fmt.Errorf("pydist: reading metadata: %w", err)
		}
		if line == "" && err != nil {
			break
		}
		lineNo++
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break // end of headers; the body is the description
		}
		if line[0] == ' ' || line[0] == '\t' {
			if key == "" {
				return Dist{}, &MetadataError{Line: lineNo, Msg: "continuation line before any field"}
			}
			val = append(val, trimIndent(line))
			continue
		}
		flush()
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return Dist{}, &MetadataError{Line: lineNo, Msg: fmt.Sprintf("%q is not a \"Field: value\" header", truncate(line, 60))}
		}
		key = strings.ToLower(k)
		val = append(val[:0], strings.TrimLeft(v, " \t"))
		if err != nil {
			break
		}
	}
	flush()
	if d.Name == "" {
		return Dist{}, &MetadataError{Msg: `missing "Name"`}
	}
	if d.Version == "" {
		return Dist{}, &MetadataError{Msg: `missing "Version"`}
	}
	if d.HomePage == "" {
		d.HomePage = projectHome
	}
	if d.Author == "" {
		d.Author = authorEmail
	}
	return d, nil
}

// urlLabel normalises a Project-URL label as PEP 753 does: lowercase,
// punctuation and whitespace removed ("Home page" → "homepage").
func urlLabel(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			return r
		case 'A' <= r && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, s)
}

// trimIndent removes the folding indentation of a continuation line: one
// tab, or up to eight spaces (what setuptools' rfc822_escape writes), so
// deeper indentation inside e.g. a license text survives.
func trimIndent(s string) string {
	if s[0] == '\t' {
		return s[1:]
	}
	n := 0
	for n < len(s) && n < 8 && s[n] == ' ' {
		n++
	}
	return s[n:]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// readRequiresTxt converts an egg-info requires.txt into Requires-Dist
// strings, following importlib.metadata: a "[extra:marker]" section header
// turns into '; (marker) and extra == "extra"'. A missing file means no
// requirements.
func readRequiresTxt(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pydist: %w", err)
	}
	var reqs []string
	section := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, &MetadataError{File: path, Line: i + 1, Msg: fmt.Sprintf("section header %q lacks \"]\"", line)}
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		reqs = append(reqs, line+eggMarker(line, section))
	}
	return reqs, nil
}

func eggMarker(req, section string) string {
	extra, markers, _ := strings.Cut(section, ":")
	if extra != "" && markers != "" {
		markers = "(" + markers + ")"
	}
	var conds []string
	if markers != "" {
		conds = append(conds, markers)
	}
	if extra != "" {
		conds = append(conds, `extra == "`+extra+`"`)
	}
	if len(conds) == 0 {
		return ""
	}
	space := ""
	if strings.Contains(req, "@") { // a URL requirement needs a space before ';'
		space = " "
	}
	return space + "; " + strings.Join(conds, " and ")
}
