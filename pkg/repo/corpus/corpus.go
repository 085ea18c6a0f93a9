// Package corpus generates RPM packages for repository tests and benchmarks
// with pkg/rpm: deterministic from a seed, shaped like a real distribution
// repository (a few to a few hundred files, /etc and bin files, directories,
// ghosts and symlinks, versioned and file dependencies, glibc symbol
// versions, weak dependencies, changelogs with repeated dates), plus a few
// packages whose texts carry XML metacharacters, UTF-8 and control
// characters.
package corpus

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpmforge/rpmforge/pkg/rpm"
)

// Options shape a generated package.
type Options struct {
	// Scale multiplies file sizes; 1 gives about 120 kB per package on
	// average (the benchmark corpus), 0.05 small packages for tests.
	Scale float64
	// Tricky adds XML metacharacters and UTF-8 to the texts of every
	// seventh package, and control characters to every fourteenth.
	Tricky bool
}

var base = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

var words = strings.Fields(`lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor
incididunt ut labore et dolore magna aliqua request response django models queryset field value key
server client library daemon plugin module config cache index build test runtime`)

// glibcVersions are symbol versions glibc 2.34+ defines on x86_64 (not all
// 2.N exist), so that an installroot providing the host's libc resolves
// them.
var glibcVersions = strings.Fields("2.3 2.3.4 2.4 2.7 2.9 2.14 2.15 2.17 2.25 2.28 2.32 2.33 2.34")

// Name returns the name of package i.
func Name(i int) string { return fmt.Sprintf("pkg%05d", i) }

// FileName returns the file name of package i at release rel.
func FileName(i, rel int) string {
	return fmt.Sprintf("%s-1.%d-%d.x86_64.rpm", Name(i), i%7, rel)
}

// Package returns the metadata and files of package i (release rel).
func Package(seed uint64, i, rel int, o Options) (rpm.Metadata, []rpm.Entry) {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	if o.Scale == 0 {
		o.Scale = 1
	}
	name := Name(i)
	sentence := func(n int) string {
		var b strings.Builder
		for k := 0; k < n; k++ {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.IntN(len(words))])
		}
		return b.String()
	}
	md := rpm.Metadata{
		Name: name, Version: fmt.Sprintf("1.%d", i%7), Release: fmt.Sprint(rel), Arch: "x86_64",
		Summary:     "The " + sentence(4) + " package",
		Description: sentence(20) + ".\n\n" + sentence(30) + ".",
		License:     []string{"MIT", "GPL-2.0-or-later", "BSD-3-Clause", "Apache-2.0"}[rng.IntN(4)],
		URL:         "https://example.com/" + name,
		Vendor:      "Example Corp",
		Packager:    "Builder <builder@example.com>",
		Group:       "System Environment/Libraries",
		BuildHost:   "build" + fmt.Sprint(rng.IntN(9)) + ".example.com",
		BuildTime:   base.Add(time.Duration(i) * time.Minute),
		Compression: "gzip:1",
	}
	if i%11 == 0 {
		e := uint32(1 + i%3)
		md.Epoch = &e
	}
	// Dependencies: other corpus packages, glibc symbol versions (only the
	// highest is kept in repodata), a shell, file requires.
	for k, n := 0, rng.IntN(6); k < n; k++ {
		dep := Name(rng.IntN(i + 1))
		if rng.IntN(2) == 0 {
			md.Requires = append(md.Requires, rpm.Relation{Name: dep, Flags: rpm.SenseGreater | rpm.SenseEqual, Version: "1.0-1"})
		} else {
			md.Requires = append(md.Requires, rpm.Relation{Name: dep})
		}
	}
	md.Requires = append(md.Requires,
		rpm.Relation{Name: "libc.so.6()(64bit)"},
		rpm.Relation{Name: "libc.so.6(GLIBC_2.2.5)(64bit)"},
		rpm.Relation{Name: "libc.so.6(GLIBC_" + glibcVersions[rng.IntN(len(glibcVersions))] + ")(64bit)"},
		rpm.Relation{Name: "libm.so.6()(64bit)"},
	)
	if rng.IntN(3) == 0 {
		md.Requires = append(md.Requires, rpm.Relation{Name: "/usr/bin/" + name}) // own primary file: dropped
		md.Requires = append(md.Requires, rpm.Relation{Name: "/usr/share/" + name + "/data0"})
	}
	md.Provides = append(md.Provides, rpm.Relation{Name: "lib" + name + ".so.1()(64bit)"})
	if rng.IntN(4) == 0 {
		md.Provides = append(md.Provides, rpm.Relation{Name: name + "-api", Flags: rpm.SenseEqual, Version: "2:1.0-1"})
	}
	if rng.IntN(5) == 0 {
		md.Conflicts = append(md.Conflicts, rpm.Relation{Name: name + "-old", Flags: rpm.SenseLess, Version: "1.0"})
		md.Obsoletes = append(md.Obsoletes, rpm.Relation{Name: name + "-legacy", Flags: rpm.SenseLess | rpm.SenseEqual, Version: "0.9-1"})
	}
	if rng.IntN(6) == 0 {
		md.Recommends = []rpm.Relation{{Name: Name(rng.IntN(i + 1))}}
		md.Suggests = []rpm.Relation{{Name: "(" + name + "-doc if " + name + "-devel)"}}
		md.Supplements = []rpm.Relation{{Name: name + "-plugin"}}
		md.Enhances = []rpm.Relation{{Name: "bash", Flags: rpm.SenseGreater, Version: "4"}}
	}
	if rng.IntN(4) == 0 {
		md.Scripts.Pre = "getent group " + name + " >/dev/null || groupadd -r " + name
		md.Scripts.Post = "exit 0"
	}
	// Changelog, newest first, some entries sharing a date.
	t := base.Add(time.Duration(i) * time.Minute).Truncate(24 * time.Hour)
	for k, n := 0, rng.IntN(25); k < n; k++ {
		md.Changelog = append(md.Changelog, rpm.Change{
			Time:   t,
			Author: fmt.Sprintf("Dev %d <dev%d@example.com> - 1.%d-%d", k%3, k%3, i%7, n-k),
			Text:   "- " + sentence(8) + "\n- " + sentence(5),
		})
		if rng.IntN(3) > 0 {
			t = t.Add(-time.Duration(1+rng.IntN(90)) * 24 * time.Hour)
		}
	}
	if o.Tricky && i%7 == 3 {
		md.Summary = `Tricky <pkg> & "quotes" 'single' — ünïcødé ✓`
		md.Description = "Line with <tags> & ampersands\n\tand a tab, \"quotes\", CR\r end.\n日本語のテキスト."
		md.Vendor = `Vendor & Sons <vendor@example.com>`
		md.URL = "https://example.com/?a=1&b=<2>"
		md.Provides = append(md.Provides, rpm.Relation{Name: name + "(x&y\"q\")", Flags: rpm.SenseEqual, Version: "1.0"})
		md.Changelog = append([]rpm.Change{{Time: base.Add(400 * 24 * time.Hour), Author: `Ünïcødé "Dev" <d&v@example.com>`,
			Text: "- fix <bug> & \"crash\"\n- ナ"}}, md.Changelog...)
	}
	if o.Tricky && i%14 == 10 {
		// Control characters XML cannot carry: createrepo_c refuses the
		// package, rpmforge replaces them in free text.
		md.Description += " A bell \a and an escape \x1b[0m."
		md.Changelog[0].Text += "\x07"
	}

	// Files.
	var es []rpm.Entry
	mtime := base.Add(time.Duration(i) * time.Hour)
	dir := func(p string) {
		es = append(es, rpm.Entry{Path: p, Mode: fs.ModeDir | 0o755, MTime: mtime})
	}
	file := func(p string, size int64, binary bool, flags rpm.FileFlag) {
		s := uint64(rng.Uint32())
		es = append(es, rpm.Entry{Path: p, Mode: 0o644, MTime: mtime, Size: size, Flags: flags,
			Open: func() (io.ReadCloser, error) {
				return io.NopCloser(&gen{rng: rand.New(rand.NewPCG(s, 7)), left: size, binary: binary}), nil
			}})
	}
	exe := func(p string, size int64) {
		file(p, size, true, 0)
		es[len(es)-1].Mode = 0o755
	}
	// Sizes: a long-tailed distribution around Scale*120 kB per package.
	size := func(mean float64) int64 {
		return int64(rng.ExpFloat64() * mean * o.Scale)
	}
	exe("/usr/bin/"+name, 1+size(40000))
	if rng.IntN(3) == 0 {
		exe("/usr/sbin/"+name+"d", 1+size(30000))
	}
	dir("/usr/lib64/" + name)
	file("/usr/lib64/lib"+name+".so.1", 1+size(50000), true, 0)
	es = append(es, rpm.Entry{Path: "/usr/lib64/lib" + name + ".so", Mode: fs.ModeSymlink | 0o777, MTime: mtime, Link: "lib" + name + ".so.1"})
	dir("/etc/" + name)
	file("/etc/"+name+"/"+name+".conf", 1+size(800), false, rpm.FileConfig|rpm.FileNoReplace)
	es = append(es, rpm.Entry{Path: "/var/log/" + name + ".log", Mode: 0o640, MTime: mtime, Flags: rpm.FileGhost})
	dir("/usr/share/" + name)
	nData := 1 + int(rng.ExpFloat64()*20) // data0 is required by some
	if rng.IntN(50) == 0 {
		nData += 300 // a few packages with many files
	}
	for k := 0; k < nData; k++ {
		file(fmt.Sprintf("/usr/share/%s/data%d", name, k), size(1500), rng.IntN(4) == 0, 0)
	}
	dir("/usr/share/doc/" + name)
	file("/usr/share/doc/"+name+"/README", 1+size(3000), false, rpm.FileDoc)
	if o.Tricky && i%7 == 3 {
		file("/usr/share/"+name+"/a&b<c>\"d\" ünï.txt", 10, false, 0)
		dir("/opt/" + name + "/sbin")
		exe("/opt/"+name+"/sbin/tool", 100) // "bin/" in the path: in primary
	}
	return md, es
}

// Write writes package i (release rel) to dir and returns its path.
func Write(ctx context.Context, dir string, seed uint64, i, rel int, o Options) (string, error) {
	md, es := Package(seed, i, rel, o)
	path := filepath.Join(dir, FileName(i, rel))
	f, err := os.CreateTemp(dir, ".corpus-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := rpm.Write(ctx, f, md, es, rpm.Options{TempDir: dir}); err != nil {
		return "", fmt.Errorf("corpus: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(f.Name(), path)
}

// gen yields deterministic file contents: random bytes, or text made of
// words (which compresses about like source code).
type gen struct {
	rng    *rand.Rand
	left   int64
	binary bool
}

func (g *gen) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	if g.binary {
		for n+8 <= len(p) {
			binary.LittleEndian.PutUint64(p[n:], g.rng.Uint64())
			n += 8
		}
		for ; n < len(p); n++ {
			p[n] = byte(g.rng.Uint32())
		}
	} else {
		for n < len(p) {
			w := words[g.rng.IntN(len(words))]
			c := copy(p[n:], w)
			n += c
			if n < len(p) {
				if g.rng.IntN(10) == 0 {
					p[n] = '\n'
				} else {
					p[n] = ' '
				}
				n++
			}
		}
	}
	g.left -= int64(n)
	return n, nil
}
