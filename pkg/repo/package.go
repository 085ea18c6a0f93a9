package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/rpmforge/rpmforge/pkg/rpmhdr"
	"github.com/rpmforge/rpmforge/pkg/rpmver"
)

// Package is one package's repodata entry: every field createrepo_c writes
// into primary.xml, filelists.xml and other.xml, derived from the RPM header
// by the same rules (createrepo_c 0.17 src/parsehdr.c).
type Package struct {
	PkgID    string // hex SHA-256 of the whole file
	Name     string
	Arch     string // "src" for source packages
	Epoch    string // "0" when the package has none
	Version  string
	Release  string
	Location string // href relative to the repository root

	Summary, Description, Packager, URL string
	License, Vendor, Group, BuildHost   string
	SourceRPM                           string

	TimeFile, TimeBuild                      int64 // mtime of the file; BUILDTIME
	SizePackage, SizeInstalled, SizeArchive  int64
	HeaderStart, HeaderEnd                   int64 // byte range of the main header
	Provides, Requires, Conflicts, Obsoletes []Dependency
	Suggests, Enhances, Recommends           []Dependency
	Supplements                              []Dependency
	Files                                    []File
	Changelogs                               []Changelog // oldest first, as createrepo_c writes them
}

// Dependency is one rpm:entry. Flags is "" (unversioned), "LT", "GT", "EQ",
// "LE" or "GE"; Epoch, Version and Release are only meaningful with Flags.
type Dependency struct {
	Name, Flags, Epoch, Version, Release string
	Pre                                  bool // requires only: needed by %pre/%post (or a PreReq)
}

// File is one file of a package. Type is "" for a file, "dir" or "ghost".
type File struct {
	Path, Type string
}

// Changelog is one changelog entry.
type Changelog struct {
	Author string
	Date   int64
	Text   string
}

// NEVRA returns name-[epoch:]version-release.arch.
func (p *Package) NEVRA() string {
	e := ""
	if p.Epoch != "" && p.Epoch != "0" {
		e = p.Epoch + ":"
	}
	return p.Name + "-" + e + p.Version + "-" + p.Release + "." + p.Arch
}

// ReadOptions control how packages are read.
type ReadOptions struct {
	// ChangelogLimit is how many of the newest changelog entries are kept:
	// -1 keeps all, 0 none. createrepo_c's default is 10.
	ChangelogLimit int
}

// ErrInvalid is wrapped by errors about files that cannot be published: not
// an RPM, truncated, corrupt, or holding data repodata cannot carry.
var ErrInvalid = errors.New("invalid package")

// ReadPackageFile reads the package at path, whose location in the
// repository is href. It hashes the whole file and parses its headers; the
// file's size and mtime are taken from the open file.
func ReadPackageFile(path, href string, opts ReadOptions) (*Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return readPackageFrom(f, st.Size(), st.ModTime().Unix(), href, opts, nil)
}

// wholeFileLimit is the largest package read into memory at once; larger
// ones are streamed through the hash.
const wholeFileLimit = 64 << 20

// readPackageFrom reads a package from an open file of size bytes. A file
// up to wholeFileLimit is read whole into *buf (reused between calls),
// parsed in place and hashed in one call; a larger one is streamed.
func readPackageFrom(f io.Reader, size, mtime int64, href string, opts ReadOptions, buf *[]byte) (p *Package, err error) {
	if size < 96 {
		return nil, fmt.Errorf("%w: %w: %d bytes, too short", ErrInvalid, errNotRPM, size)
	}
	if size > wholeFileLimit || buf == nil {
		return readPackage(f, size, mtime, href, opts)
	}
	if int64(cap(*buf)) < size+1 {
		*buf = make([]byte, size+1)
	}
	// One byte more than the size tells a file that grew meanwhile.
	data := (*buf)[:size+1]
	n, err := io.ReadFull(f, data)
	if n != int(size) || (err != io.ErrUnexpectedEOF && err != nil) {
		if err == nil || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, errChanged)
		}
		return nil, err
	}
	return packageFromBytes(data[:size], mtime, href, opts, false)
}

// packageFromBytes parses, checks and hashes a whole package file read into
// data. With alias, the Package's strings point into data (no copies): it
// must be used (rendered) before data is reused.
func packageFromBytes(data []byte, mtime int64, href string, opts ReadOptions, alias bool) (*Package, error) {
	size := int64(len(data))
	hdrs, err := parseRPMHeaders(data, alias)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if hdrs.headerEnd == size {
		return nil, fmt.Errorf("%w: %w: no payload after the header (truncated)", ErrInvalid, errNotRPM)
	}
	if err := checkHeaderDigest(hdrs, data[hdrs.headerStart:hdrs.headerEnd]); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return finishPackage(hdrs, hex.EncodeToString(sum[:]), size, mtime, href, opts)
}

// readPackage reads a package of size bytes from r.
func readPackage(r io.Reader, size, mtime int64, href string, opts ReadOptions) (*Package, error) {
	h := sha256.New()
	tee := io.TeeReader(r, h)
	hdrs, err := readRPMHeaders(tee)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	// Hash the rest of the file, checking that the payload is all there.
	buf := getCopyBuf()
	n, err := io.CopyBuffer(h, r, *buf)
	putCopyBuf(buf)
	if err != nil {
		return nil, err
	}
	if got := hdrs.headerEnd + n; got != size {
		return nil, fmt.Errorf("%w: read %d bytes, the file has %d (changed while reading?)", ErrInvalid, got, size)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: %w: no payload after the header (truncated)", ErrInvalid, errNotRPM)
	}
	return finishPackage(hdrs, hex.EncodeToString(h.Sum(nil)), size, mtime, href, opts)
}

// checkSize compares the file's size with the one the signature header
// records for header and payload: a truncated (or extended) file is found
// without reading the payload.
func checkSize(hdrs *rpmHeaders, size int64) error {
	want, ok := hdrs.sig.Uint(rpmhdr.SigTagLongSize)
	if !ok {
		want, ok = hdrs.sig.Uint(rpmhdr.SigTagSize)
	}
	if ok && hdrs.headerStart+int64(want) != size {
		return fmt.Errorf("%w: %w: the file has %d bytes, its signature header says %d (truncated?)",
			ErrInvalid, errNotRPM, size, hdrs.headerStart+int64(want))
	}
	return nil
}

// checkHeaderDigest verifies the main header against its SHA-256 in the
// signature header, when there is one.
func checkHeaderDigest(hdrs *rpmHeaders, hdr []byte) error {
	want := hdrs.sig.String(rpmhdr.SigTagSHA256)
	if want == "" {
		return nil
	}
	if sum := sha256.Sum256(hdr); hex.EncodeToString(sum[:]) != want {
		return fmt.Errorf("%w: %w: the header's SHA-256 digest does not match (corrupt)", ErrInvalid, errNotRPM)
	}
	return nil
}

func finishPackage(hdrs *rpmHeaders, pkgid string, size, mtime int64, href string, opts ReadOptions) (*Package, error) {
	if err := checkSize(hdrs, size); err != nil {
		return nil, err
	}
	p, err := packageFromHeaders(hdrs, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	p.PkgID = pkgid
	p.SizePackage = size
	p.TimeFile = mtime
	if hasControl(href) {
		return nil, fmt.Errorf("%w: control character in the file name", ErrInvalid)
	}
	// createrepo_c rewrites a non-UTF-8 name as Latin-1, giving an href
	// that names no file: clients then fail to download the package.
	if !utf8.ValidString(href) {
		return nil, fmt.Errorf("%w: the file name is not UTF-8 (no XML href can name it): rename the file", ErrInvalid)
	}
	p.Location = href
	return p, nil
}

// packageFromHeaders derives the repodata fields as createrepo_c's
// cr_package_from_header does.
func packageFromHeaders(hdrs *rpmHeaders, opts ReadOptions) (*Package, error) {
	m := hdrs.main
	p := &Package{
		Name:        m.String(rpmhdr.TagName),
		Arch:        m.String(rpmhdr.TagArch),
		Version:     m.String(rpmhdr.TagVersion),
		Release:     m.String(rpmhdr.TagRelease),
		Summary:     m.String(rpmhdr.TagSummary),
		Description: m.String(rpmhdr.TagDescription),
		URL:         m.String(rpmhdr.TagURL),
		License:     m.String(rpmhdr.TagLicense),
		Vendor:      m.String(rpmhdr.TagVendor),
		Group:       m.String(rpmhdr.TagGroup),
		BuildHost:   m.String(rpmhdr.TagBuildHost),
		SourceRPM:   m.String(rpmhdr.TagSourceRPM),
		Packager:    m.String(rpmhdr.TagPackager),
		HeaderStart: hdrs.headerStart,
		HeaderEnd:   hdrs.headerEnd,
	}
	if p.Name == "" || p.Version == "" {
		return nil, fmt.Errorf("%w: the header has no name or version", errNotRPM)
	}
	if m.Has(rpmhdr.TagSourcePackage) {
		p.Arch = "src"
	}
	epoch, _ := m.Uint(rpmhdr.TagEpoch)
	p.Epoch = strconv.FormatUint(epoch&0xffffffff, 10)
	if t, ok := m.Uint(rpmhdr.TagBuildTime); ok {
		p.TimeBuild = int64(uint32(t))
	}
	if v, ok := m.Uint(rpmhdr.TagLongSize); ok {
		p.SizeInstalled = int64(v)
	} else if v, ok := m.Uint(rpmhdr.TagSize); ok {
		p.SizeInstalled = int64(uint32(v))
	}
	p.SizeArchive = archiveSize(hdrs)

	// Identifiers must not carry control characters (createrepo_c refuses
	// such packages); free text has them replaced.
	for _, f := range []struct{ name, v string }{
		{"name", p.Name}, {"arch", p.Arch}, {"version", p.Version}, {"release", p.Release},
	} {
		if hasControl(f.v) {
			return nil, fmt.Errorf("control character in the %s %q", f.name, f.v)
		}
	}
	p.Name, p.Arch, p.Version, p.Release = toUTF8(p.Name), toUTF8(p.Arch), toUTF8(p.Version), toUTF8(p.Release)
	for _, s := range []*string{&p.Summary, &p.Description, &p.URL, &p.License, &p.Vendor, &p.Group,
		&p.BuildHost, &p.SourceRPM, &p.Packager} {
		*s = cleanText(*s)
	}

	files, fileSet, err := readFiles(m)
	if err != nil {
		return nil, err
	}
	p.Files = files
	if err := readDeps(p, m, fileSet); err != nil {
		return nil, err
	}
	p.Changelogs = readChangelogs(m, opts.ChangelogLimit)
	return p, nil
}

// archiveSize is rpm's LONGARCHIVESIZE extension tag: the 64-bit tag or the
// 32-bit one, from the main header, else from the signature header (rpm
// merges the signature's tags into the main header).
func archiveSize(h *rpmHeaders) int64 {
	if v, ok := h.main.Uint(rpmhdr.SigTagLongArchiveSize); ok {
		return int64(v)
	}
	if v, ok := h.sig.Uint(rpmhdr.SigTagLongArchiveSize); ok {
		return int64(v)
	}
	if v, ok := h.main.Uint(rpmhdr.TagArchiveSize); ok {
		return int64(uint32(v))
	}
	if v, ok := h.sig.Uint(rpmhdr.SigTagPayloadSize); ok {
		return int64(uint32(v))
	}
	return 0
}

// readFiles returns the file list in header order and the set of its paths
// that go into primary.xml (requires of those are dropped).
func readFiles(m *rpmhdr.Header) ([]File, map[string]bool, error) {
	dirs := m.Strings(rpmhdr.TagDirNames)
	bases := m.Strings(rpmhdr.TagBaseNames)
	idx := m.Uints(rpmhdr.TagDirIndexes)
	var paths []string
	switch {
	case bases != nil:
		if len(idx) != len(bases) {
			return nil, nil, fmt.Errorf("%d base names but %d directory indexes", len(bases), len(idx))
		}
		paths = make([]string, len(bases))
		n := 0
		for i, b := range bases {
			if idx[i] >= uint64(len(dirs)) {
				return nil, nil, fmt.Errorf("file %q: directory index %d out of range", b, idx[i])
			}
			n += len(dirs[idx[i]]) + len(b)
		}
		// All the paths in one allocation; each string points into it.
		slab := make([]byte, 0, n)
		for i, b := range bases {
			start := len(slab)
			slab = append(slab, dirs[idx[i]]...)
			slab = append(slab, b...)
			if len(slab) > start {
				paths[i] = unsafe.String(&slab[start], len(slab)-start)
			}
		}
	default:
		paths = m.Strings(rpmhdr.TagOldFileNames)
	}
	if len(paths) == 0 {
		return nil, nil, nil
	}
	modes := m.Uints(rpmhdr.TagFileModes)
	flags := m.Uints(rpmhdr.TagFileFlags)
	if len(modes) != len(paths) || len(flags) != len(paths) {
		// createrepo_c lists no files when a tag is missing.
		return nil, map[string]bool{}, nil
	}
	files := make([]File, len(paths))
	set := map[string]bool{}
	for i, path := range paths {
		if hasControl(path) {
			return nil, nil, fmt.Errorf("control character in the file name %q", path)
		}
		if isPrimaryFile(path) {
			set[path] = true
		}
		t := ""
		switch {
		case modes[i]&0o170000 == 0o040000:
			t = "dir"
		case flags[i]&fileGhost != 0:
			t = "ghost"
		}
		files[i] = File{Path: toUTF8(path), Type: t}
	}
	return files, set, nil
}

const (
	fileGhost = 1 << 6

	sensePrereq     = 1 << 6
	senseScriptPre  = 1 << 9
	senseScriptPost = 1 << 10
	senseMissingOK  = 1 << 19 // legacy weak dependency, in requires
	senseStrong     = 1 << 27 // legacy weak dependency strength
)

// flagNames maps the comparison bits of a dependency (cr_flag_to_str).
func flagName(f uint64) string {
	switch f & 0xf {
	case 2:
		return "LT"
	case 4:
		return "GT"
	case 8:
		return "EQ"
	case 10:
		return "LE"
	case 12:
		return "GE"
	}
	return ""
}

type depKind int

const (
	depProvides depKind = iota
	depConflicts
	depObsoletes
	depRequires
	depSuggests
	depEnhances
	depRecommends
	depSupplements
	depOldSuggests
	depOldEnhances
)

// depTags lists the dependency tags in the order createrepo_c reads them,
// which matters: requires identical to a provide are dropped.
var depTags = []struct {
	kind                     depKind
	nameTag, flagTag, verTag uint32
}{
	{depProvides, rpmhdr.TagProvideName, rpmhdr.TagProvideFlags, rpmhdr.TagProvideVersion},
	{depConflicts, rpmhdr.TagConflictName, rpmhdr.TagConflictFlags, rpmhdr.TagConflictVer},
	{depObsoletes, rpmhdr.TagObsoleteName, rpmhdr.TagObsoleteFlags, rpmhdr.TagObsoleteVer},
	{depRequires, rpmhdr.TagRequireName, rpmhdr.TagRequireFlags, rpmhdr.TagRequireVersion},
	{depSuggests, rpmhdr.TagSuggestName, rpmhdr.TagSuggestFlags, rpmhdr.TagSuggestVer},
	{depEnhances, rpmhdr.TagEnhanceName, rpmhdr.TagEnhanceFlags, rpmhdr.TagEnhanceVer},
	{depRecommends, rpmhdr.TagRecommendName, rpmhdr.TagRecommendFlags, rpmhdr.TagRecommendVer},
	{depSupplements, rpmhdr.TagSupplementName, rpmhdr.TagSupplementFlag, rpmhdr.TagSupplementVer},
	{depOldSuggests, rpmhdr.TagOldSuggestName, rpmhdr.TagOldSuggestFlag, rpmhdr.TagOldSuggestVer},
	{depOldEnhances, rpmhdr.TagOldEnhanceName, rpmhdr.TagOldEnhanceFlag, rpmhdr.TagOldEnhanceVer},
}

// readDeps fills the dependency lists by createrepo_c's rules: rpmlib()
// requires are dropped, and so are requires of the package's own primary
// files, requires identical to a provide, repeated requires, and all
// libc.so.6 requires but the highest version, which goes last.
func readDeps(p *Package, m *rpmhdr.Header, files map[string]bool) error {
	type depKey struct{ name, flags, ver string }
	provided := map[depKey]bool{}
	type seenReq struct {
		flags, version string
		pre            bool
	}
	seen := map[string]seenReq{}
	for _, dt := range depTags {
		names := m.Strings(dt.nameTag)
		flags := m.Uints(dt.flagTag)
		vers := m.Strings(dt.verTag)
		if names == nil || flags == nil || vers == nil {
			continue
		}
		n := min(len(names), len(flags), len(vers))
		var libc *Dependency
		for i := 0; i < n; i++ {
			name, fl, ver := names[i], flags[i], vers[i]
			fs := flagName(fl)
			key := depKey{name, fs, ver}
			pre := false
			if dt.kind == depRequires {
				if strings.HasPrefix(name, "rpmlib(") {
					continue
				}
				if strings.HasPrefix(name, "/") && files[name] {
					continue
				}
				if provided[key] {
					continue
				}
				pre = fl&(sensePrereq|senseScriptPre|senseScriptPost) != 0
				if s, ok := seen[name]; ok && s.flags == fs && s.version == ver && s.pre == pre {
					continue
				}
			}
			for _, f := range []string{name, ver} {
				if hasControl(f) {
					return fmt.Errorf("control character in dependency %q", name+" "+ver)
				}
			}
			d := Dependency{Name: toUTF8(name), Flags: fs}
			if ver != "" {
				e, v, r, ok := splitEVR(ver)
				if !ok {
					// createrepo_c warns and skips the dependency.
					continue
				}
				d.Epoch, d.Version, d.Release = e, toUTF8(v), toUTF8(r)
			}
			switch dt.kind {
			case depProvides:
				provided[key] = true
				p.Provides = append(p.Provides, d)
			case depConflicts:
				p.Conflicts = append(p.Conflicts, d)
			case depObsoletes:
				p.Obsoletes = append(p.Obsoletes, d)
			case depRequires:
				if fl&senseMissingOK != 0 {
					p.Recommends = append(p.Recommends, d)
					continue
				}
				d.Pre = pre
				if strings.HasPrefix(d.Name, "libc.so.6") {
					if libc == nil || compareLibcDep(libc.Name, d.Name) == 2 {
						dd := d
						libc = &dd
					}
					continue
				}
				p.Requires = append(p.Requires, d)
				seen[name] = seenReq{fs, ver, pre}
			case depSuggests:
				p.Suggests = append(p.Suggests, d)
			case depEnhances:
				p.Enhances = append(p.Enhances, d)
			case depRecommends:
				p.Recommends = append(p.Recommends, d)
			case depSupplements:
				p.Supplements = append(p.Supplements, d)
			case depOldSuggests:
				if fl&senseStrong != 0 {
					p.Recommends = append(p.Recommends, d)
				} else {
					p.Suggests = append(p.Suggests, d)
				}
			case depOldEnhances:
				if fl&senseStrong != 0 {
					p.Supplements = append(p.Supplements, d)
				} else {
					p.Enhances = append(p.Enhances, d)
				}
			}
		}
		if libc != nil {
			p.Requires = append(p.Requires, *libc)
		}
	}
	return nil
}

// splitEVR splits [epoch:]version[-release] as createrepo_c's cr_str_to_evr
// does: the epoch defaults to "0"; a non-numeric epoch is refused.
func splitEVR(s string) (epoch, version, release string, ok bool) {
	rest := s
	epoch = "0"
	if i := strings.IndexByte(s, ':'); i >= 0 {
		if !strtolPrefix(s[:i]) {
			return "", "", "", false
		}
		if i > 0 {
			epoch = s[:i]
		}
		rest = s[i+1:]
	}
	if j := strings.IndexByte(rest, '-'); j >= 0 {
		return epoch, rest[:j], rest[j+1:], true
	}
	return epoch, rest, "", true
}

// strtolPrefix reports whether C's strtol consumes all of s (or s is empty).
func strtolPrefix(s string) bool {
	if s == "" {
		return true
	}
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	return digits > 0 && i == len(s)
}

// compareLibcDep compares two libc.so.6 capability names by the version in
// their first parentheses, as createrepo_c's cr_compare_dependency: 0 same,
// 1 first bigger, 2 second bigger.
func compareLibcDep(a, b string) int {
	if a == b {
		return 0
	}
	i, j := strings.IndexByte(a, '('), strings.IndexByte(b, '(')
	switch {
	case i < 0 && j < 0:
		return 0
	case i < 0:
		return 2
	case j < 0:
		return 1
	}
	a, b = a[i:], b[j:]
	ie, je := strings.IndexByte(a, ')'), strings.IndexByte(b, ')')
	switch {
	case ie < 0 && je < 0:
		return -1
	case ie < 0:
		return 2
	case je < 0:
		return 1
	}
	// a[1:ie] is the content of the parentheses.
	switch {
	case ie == 1 && je == 1:
		return 0
	case ie == 1:
		return 2
	case je == 1:
		return 1
	}
	firstDigit := func(s string) int {
		for k := 1; k < len(s); k++ {
			if s[k] >= '0' && s[k] <= '9' {
				return k
			}
		}
		return len(s)
	}
	da, db := firstDigit(a), firstDigit(b)
	switch {
	case da > ie && db > je:
		return 0
	case da > ie:
		return 2
	case db > je:
		return 1
	}
	switch rpmver.Vercmp(a[da:ie], b[db:je]) {
	case 1:
		return 1
	case -1:
		return 2
	}
	return 0
}

// readChangelogs keeps the limit newest entries and returns them oldest
// first, bumping the dates of entries that share a time as createrepo_c
// does (so that they stay distinct).
func readChangelogs(m *rpmhdr.Header, limit int) []Changelog {
	times := m.Uints(rpmhdr.TagChangelogTime)
	names := m.Strings(rpmhdr.TagChangelogName)
	texts := m.Strings(rpmhdr.TagChangelogText)
	n := min(len(times), len(names), len(texts))
	if limit >= 0 {
		n = min(n, limit)
	}
	if n == 0 {
		return nil
	}
	// list[0] is the most recently added (oldest kept) entry, as with
	// createrepo_c's g_slist_prepend.
	rev := make([]Changelog, 0, n)
	var last int64
	for i := 0; i < n; i++ {
		t := int64(times[i])
		author := names[i]
		if len(author) > 1 {
			end := len(author)
			for end > 1 && author[end-1] == ' ' {
				end--
			}
			author = author[:end]
		}
		rev = append(rev, Changelog{Author: cleanText(author), Date: t, Text: cleanText(texts[i])})
		if last == t {
			// Entries before this one with the same time are bumped.
			tt := t
			for k := len(rev) - 2; k >= 0 && rev[k].Date == tt; k-- {
				rev[k].Date++
				tt++
			}
		} else {
			last = t
		}
	}
	out := make([]Changelog, n)
	for i := range rev {
		out[n-1-i] = rev[i]
	}
	return out
}

// isPrimaryFile reports whether a path goes into primary.xml: createrepo_c's
// cr_is_primary (/etc/*, any path containing "bin/", /usr/lib/sendmail).
func isPrimaryFile(p string) bool {
	return strings.HasPrefix(p, "/etc/") || strings.Contains(p, "bin/") || p == "/usr/lib/sendmail"
}

// hasControl reports whether s holds a character XML 1.0 cannot carry: a C0
// control other than tab, newline and carriage return, or the noncharacters
// U+FFFE and U+FFFF (valid UTF-8, but XML parsers refuse the whole file).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r':
			return true
		case c == 0xef && i+2 < len(s) && s[i+1] == 0xbf && (s[i+2] == 0xbe || s[i+2] == 0xbf):
			return true // U+FFFE, U+FFFF
		}
	}
	return false
}

// plainASCII reports whether s is ASCII without C0 controls other than tab,
// newline and carriage return: text that needs no conversion nor cleaning
// (almost all of it).
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// toUTF8 returns s if it is valid UTF-8, else reads it as Latin-1 the way
// createrepo_c does (cr_latin1_to_utf8): C0 controls and 0x80-0xBF bytes
// (probably misencoded CP-1252) are dropped.
func toUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x80:
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				continue
			}
			b.WriteByte(c)
		case c < 0xc0:
		default:
			b.WriteRune(rune(c))
		}
	}
	return b.String()
}

// cleanText converts free text to UTF-8 and replaces control characters
// XML cannot carry with U+FFFD.
func cleanText(s string) string {
	if plainASCII(s) {
		return s
	}
	s = toUTF8(s)
	if !hasControl(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return utf8.RuneError
		}
		return r
	}, s)
}
