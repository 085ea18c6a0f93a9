package sbom

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/rpmforge/rpmforge/pkg/pydist"
)

// ScanOptions control Scan.
type ScanOptions struct {
	// Open returns a file's content as packaged, by slash-separated path
	// relative to the venv (relocation rewrites some files); nil reads the
	// file from disk. It is called from several goroutines at once.
	Open func(rel string) (io.ReadCloser, error)
	// Sum, when set, gives a file's SHA-256 as packaged without reading it
	// (ok false: read it through Open). The build passes what relocation
	// computed while reading every file anyway.
	Sum func(rel string) (sum [sha256.Size]byte, ok bool)
}

// Scan lists the distributions in sitePackages (a directory inside venv)
// with their licence, dependencies and a hash of their installed files.
//
// The files of a distribution are those its RECORD (dist-info) or
// installed-files.txt (egg-info) lists, else its top-level packages and
// modules (top_level.txt, or the distribution's name), always with its
// metadata directory. Only the list is trusted, not the hashes in it (real
// venvs have hex digests, stale entries and files rewritten since): every
// file is read and hashed again. Entries outside the venv are ignored.
func Scan(venv, sitePackages string, opt ScanOptions) ([]Component, error) {
	dists, err := pydist.Scan(sitePackages)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	venv, err = filepath.Abs(venv)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	sp, err := filepath.Abs(sitePackages)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	spRel, err := filepath.Rel(venv, sp)
	if err != nil || spRel == ".." || strings.HasPrefix(spRel, "../") {
		return nil, fmt.Errorf("sbom: site-packages %s is not inside the venv %s", sp, venv)
	}
	open := opt.Open
	if open == nil {
		open = func(rel string) (io.ReadCloser, error) { return os.Open(filepath.Join(venv, filepath.FromSlash(rel))) }
	}
	s := &scanner{venv: venv, sp: sp, spRel: filepath.ToSlash(spRel), open: open, sum: opt.Sum}
	present := map[string]bool{}
	for _, d := range dists {
		present[pydist.Normalize(d.Name)] = true
	}
	// Distributions are hashed in parallel (every file of the venv is read:
	// the step is I/O and SHA-256 bound); the order stays dists'.
	comps := make([]Component, len(dists))
	errs := make([]error, len(dists))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(dists)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				comps[i], errs[i] = s.component(dists[i], present)
			}
		}()
	}
	for i := range dists {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return comps, nil
}

type scanner struct {
	venv, sp, spRel string
	open            func(rel string) (io.ReadCloser, error)
	sum             func(rel string) ([sha256.Size]byte, bool)
}

func (s *scanner) component(d pydist.Dist, present map[string]bool) (Component, error) {
	c := Component{
		Name: d.Name, Version: d.Version, PURL: PyPIPURL(d.Name, d.Version), Supplier: d.Author,
		HomePage: d.HomePage, License: ResolveLicense(d), Requires: d.RequiresDist,
		MetadataPath: d.MetadataPath, Kind: d.Kind,
	}
	deps := map[string]bool{}
	for _, r := range d.RequiresDist {
		name, marker := requirementName(r)
		if name == "" || strings.Contains(marker, "extra") {
			continue
		}
		if n := pydist.Normalize(name); present[n] && n != c.Key() {
			deps[n] = true
		}
	}
	for n := range deps {
		c.DependsOn = append(c.DependsOn, n)
	}
	sort.Strings(c.DependsOn)

	files, from, missing, err := s.files(d)
	if err != nil {
		return Component{}, err
	}
	c.FilesFrom, c.Missing = from, missing
	var manifest strings.Builder
	for _, rel := range files {
		sum, err := s.hash(rel)
		if errors.Is(err, fs.ErrNotExist) {
			c.Missing++
			continue
		}
		if err != nil {
			return Component{}, fmt.Errorf("sbom: %s %s: %w", d.Name, d.MetadataPath, err)
		}
		fmt.Fprintf(&manifest, "%s  %s\n", sum, rel)
		c.Files++
	}
	h := sha256.Sum256([]byte(manifest.String()))
	c.SHA256 = hex.EncodeToString(h[:])
	return c, nil
}

// requirementName splits a Requires-Dist value into the project name and
// its environment marker.
func requirementName(req string) (name, marker string) {
	req, marker, _ = strings.Cut(req, ";")
	req = strings.TrimSpace(req)
	end := 0
	for end < len(req) {
		ch := req[end]
		if ch == '-' || ch == '_' || ch == '.' || ('a' <= ch && ch <= 'z') || ('A' <= ch && ch <= 'Z') || ('0' <= ch && ch <= '9') {
			end++
			continue
		}
		break
	}
	return req[:end], marker
}

func (s *scanner) hash(rel string) (string, error) {
	if s.sum != nil {
		if sum, ok := s.sum(rel); ok {
			return hex.EncodeToString(sum[:]), nil
		}
	}
	f, err := s.open(rel)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// files returns the venv-relative paths of a distribution's files, sorted,
// how they were found, and how many listed entries were not regular files.
func (s *scanner) files(d pydist.Dist) ([]string, string, int, error) {
	set := map[string]bool{}
	missing := 0
	// metaDir is the dist-info / egg-info directory, "" for an egg-info file.
	metaDir := path.Dir(d.MetadataPath)
	if metaDir == "." {
		metaDir = ""
		set[path.Join(s.spRel, d.MetadataPath)] = true
	}
	if metaDir != "" {
		if err := s.walk(path.Join(s.spRel, metaDir), set); err != nil {
			return nil, "", 0, err
		}
	}
	from := ""
	var listed []string // paths relative to site-packages
	var err error
	switch {
	case metaDir != "" && d.Kind == pydist.KindDistInfo:
		listed, err = readRecord(filepath.Join(s.sp, metaDir, "RECORD"))
		from = "RECORD"
	case metaDir != "":
		listed, err = readLines(filepath.Join(s.sp, metaDir, "installed-files.txt"))
		for i, p := range listed {
			listed[i] = path.Join(metaDir, p)
		}
		from = "installed-files.txt"
	}
	if err != nil {
		return nil, "", 0, err
	}
	if listed == nil { // no list: the top-level packages on disk
		var tops []string
		if metaDir != "" {
			if tops, err = readLines(filepath.Join(s.sp, metaDir, "top_level.txt")); err != nil {
				return nil, "", 0, err
			}
		}
		from = "top_level.txt"
		if len(tops) == 0 {
			tops = nameGuesses(d.Name)
			from = "name"
		}
		for _, t := range tops {
			if err := s.topLevel(t, set); err != nil {
				return nil, "", 0, err
			}
		}
	}
	for _, p := range listed {
		rel := path.Clean(path.Join(s.spRel, filepath.ToSlash(p)))
		if rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) || skipFile(rel) {
			continue // outside the venv, or byte-code
		}
		if s.sum != nil {
			if _, ok := s.sum(rel); ok { // read as a regular file: no lstat
				set[rel] = true
				continue
			}
		}
		st, err := os.Lstat(filepath.Join(s.venv, filepath.FromSlash(rel)))
		if err != nil || !st.Mode().IsRegular() {
			if err == nil && st.IsDir() {
				continue
			}
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				missing++
				continue
			}
			return nil, "", 0, fmt.Errorf("sbom: %w", err)
		}
		set[rel] = true
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, from, missing, nil
}

// topLevel adds a top-level package directory, module or extension.
func (s *scanner) topLevel(name string, set map[string]bool) error {
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil
	}
	if st, err := os.Stat(filepath.Join(s.sp, name)); err == nil && st.IsDir() {
		return s.walk(path.Join(s.spRel, name), set)
	}
	matches, err := filepath.Glob(filepath.Join(s.sp, name+".*"))
	if err != nil {
		return fmt.Errorf("sbom: %w", err)
	}
	for _, m := range matches {
		base := filepath.Base(m)
		if st, err := os.Lstat(m); err != nil || !st.Mode().IsRegular() {
			continue
		}
		if base == name+".py" || strings.HasSuffix(base, ".so") || strings.HasSuffix(base, ".pyd") {
			set[path.Join(s.spRel, base)] = true
		}
	}
	return nil
}

// walk adds the regular files below a venv-relative directory.
func (s *scanner) walk(rel string, set map[string]bool) error {
	root := filepath.Join(s.venv, filepath.FromSlash(rel))
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("sbom: %w", err)
		}
		if e.IsDir() && e.Name() == "__pycache__" {
			return filepath.SkipDir
		}
		if !e.Type().IsRegular() {
			return nil
		}
		r, err := filepath.Rel(s.venv, p)
		if err != nil {
			return fmt.Errorf("sbom: %w", err)
		}
		if r = filepath.ToSlash(r); !skipFile(r) {
			set[r] = true
		}
		return nil
	})
}

// skipFile leaves out byte-code: it is compiled at build time or on the
// host, not part of what the distribution shipped.
func skipFile(rel string) bool {
	return strings.HasSuffix(rel, ".pyc") || strings.HasSuffix(rel, ".pyo") || strings.Contains(rel, "/__pycache__/")
}

// nameGuesses are the import names a distribution without top_level.txt
// most likely uses.
func nameGuesses(name string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range []string{name, strings.ToLower(name), strings.NewReplacer("-", "_", ".", "_").Replace(name),
		strings.ToLower(strings.NewReplacer("-", "_", ".", "_").Replace(name))} {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// readRecord returns the paths of a RECORD file; nil when there is none.
func readRecord(file string) ([]string, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	paths := []string{}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return paths, nil
		}
		if err != nil {
			return nil, fmt.Errorf("sbom: %s: line %d: %w", file, line, err)
		}
		if len(rec) > 0 && strings.TrimSpace(rec[0]) != "" {
			paths = append(paths, rec[0])
		}
	}
}

// readLines returns the non-empty lines of a file; nil when there is none.
func readLines(file string) ([]string, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	defer f.Close()
	lines := []string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sbom: %s: %w", file, err)
	}
	return lines, nil
}
