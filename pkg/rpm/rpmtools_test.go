package rpm

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/rpm")

const goldenDir = "../../testdata/rpm"

// golden compares got with testdata/rpm/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join(goldenDir, name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", p, got, want)
	}
}

// qfFormat queries most tags the writer sets.
const qfFormat = `name=%{NAME} epoch=%{EPOCH} version=%{VERSION} release=%{RELEASE} arch=%{ARCH} os=%{OS}
summary=%{SUMMARY}
description=%{DESCRIPTION}
buildtime=%{BUILDTIME} buildhost=%{BUILDHOST} size=%{SIZE} longsize=%{LONGSIZE}
license=%{LICENSE} group=%{GROUP} url=%{URL} vendor=%{VENDOR} packager=%{PACKAGER}
sourcerpm=%{SOURCERPM} vcs=%{VCS} rpmversion=%{RPMVERSION} platform=%{PLATFORM} encoding=%{ENCODING}
payload=%{PAYLOADFORMAT} %{PAYLOADCOMPRESSOR} %{PAYLOADFLAGS} digestalgo=%{PAYLOADDIGESTALGO} filedigestalgo=%{FILEDIGESTALGO}
sourcepackage=%{SOURCEPACKAGE} archivesize=%{ARCHIVESIZE}
[file=%{FILENAMES} mode=%{FILEMODES:octal} size=%{FILESIZES} mtime=%{FILEMTIMES} flags=%{FILEFLAGS:fflags} user=%{FILEUSERNAME} group=%{FILEGROUPNAME} link=%{FILELINKTOS} inode=%{FILEINODES} dev=%{FILEDEVICES} rdev=%{FILERDEVS} verify=%{FILEVERIFYFLAGS} lang=%{FILELANGS} color=%{FILECOLORS} digest=%{FILEDIGESTS}
][require=%{REQUIRENAME} %{REQUIREFLAGS:depflags} %{REQUIREVERSION} (%{REQUIREFLAGS})
][provide=%{PROVIDENAME} %{PROVIDEFLAGS:depflags} %{PROVIDEVERSION}
][conflict=%{CONFLICTNAME} %{CONFLICTFLAGS:depflags} %{CONFLICTVERSION}
][obsolete=%{OBSOLETENAME} %{OBSOLETEFLAGS:depflags} %{OBSOLETEVERSION}
][recommend=%{RECOMMENDNAME}
][suggest=%{SUGGESTNAME}
][supplement=%{SUPPLEMENTNAME}
][enhance=%{ENHANCENAME}
][changelog=%{CHANGELOGTIME} %{CHANGELOGNAME}: %{CHANGELOGTEXT}
]pre=%{PREINPROG}: %{PREIN}
post=%{POSTINPROG}: %{POSTIN}
preun=%{PREUNPROG}: %{PREUN}
postun=%{POSTUNPROG}: %{POSTUN}
pretrans=%{PRETRANSPROG}: %{PRETRANS}
posttrans=%{POSTTRANSPROG}: %{POSTTRANS}
`

// TestRPMTools reads the sample package with rpm 4.18's own tools.
func TestRPMTools(t *testing.T) {
	e := newRPMEnv(t, "rpm", "rpm2cpio", "cpio")
	p, res := writeFile(t, sampleMetadata(), sampleEntries(), Options{})

	t.Run("checksig", func(t *testing.T) {
		out := e.run("rpm", "-Kv", p)
		for _, want := range []string{"Header SHA256 digest: OK", "Header SHA1 digest: OK", "Payload SHA256 digest: OK", "MD5 digest: OK"} {
			if !strings.Contains(out, want) {
				t.Errorf("rpm -Kv output lacks %q:\n%s", want, out)
			}
		}
		if out := e.run("rpm", "-K", p); !strings.HasSuffix(out, " digests OK\n") {
			t.Errorf("rpm -K: %s", out)
		}
	})
	t.Run("qf", func(t *testing.T) {
		golden(t, "demo.qf.golden", e.run("rpm", "-qp", "--qf", qfFormat, p))
	})
	t.Run("requires", func(t *testing.T) {
		out := e.run("rpm", "-qp", "--requires", p)
		var want strings.Builder
		for _, r := range res.Requires {
			fmt.Fprintln(&want, r.String())
		}
		if out != want.String() {
			t.Errorf("rpm --requires:\n%s\nResult.Requires:\n%s", out, want.String())
		}
		golden(t, "demo.requires.golden", out)
		golden(t, "demo.provides.golden", e.run("rpm", "-qp", "--provides", p))
	})
	t.Run("scripts", func(t *testing.T) {
		golden(t, "demo.scripts.golden", e.run("rpm", "-qp", "--scripts", p))
	})
	t.Run("list", func(t *testing.T) {
		golden(t, "demo.qplv.golden", e.run("rpm", "-qplv", p))
		golden(t, "demo.changelog.golden", e.run("rpm", "-qp", "--changelog", p))
	})
	t.Run("rpm2cpio", func(t *testing.T) {
		out := e.shell("rpm2cpio " + p + " | cpio -t --quiet")
		want := "./etc/demo\n./etc/demo/demo.conf\n./opt/demo\n./opt/demo/bin\n./opt/demo/bin/hello\n./opt/demo/bin/hi\n./opt/demo/empty\n"
		if out != want {
			t.Errorf("rpm2cpio | cpio -t:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("rpmlint", func(t *testing.T) {
		if _, err := os.Stat("/usr/bin/rpmlint"); err != nil {
			t.Skip("rpmlint is not installed")
		}
		out, _, _ := e.try("rpmlint", p) // exits non-zero on any error
		// What rpmlint reports for rpmbuild's package with the same
		// contents (testdata/rpm/demo.spec): policy about the files, not
		// the format.
		allowed := map[string]bool{
			"no-signature": true, "dir-or-file-in-opt": true, "zero-length": true,
			"script-without-shebang": true, "no-binary": true,
		}
		for _, m := range regexp.MustCompile(`(?m)^\S+: E: (\S+)`).FindAllStringSubmatch(out, -1) {
			if !allowed[m[1]] {
				t.Errorf("rpmlint error %s:\n%s", m[1], out)
			}
		}
		if !strings.Contains(out, "1 packages and 0 specfiles checked") {
			t.Errorf("rpmlint did not check the package:\n%s", out)
		}
	})
}

// installEntries is a small tree for rpm -i.
func installEntries() []Entry {
	entries := sampleEntries()
	entries = append(entries,
		regular("/opt/demo/lib/data.bin", 0o600, strings.Repeat("\x00\x01\x02", 100_000)),
		Entry{Path: "/opt/demo/abs", Mode: 0o777 | os.ModeSymlink, Link: "/opt/demo/bin/hello", MTime: testTime},
		Entry{Path: "/var/log/demo.log", Mode: 0o640, Flags: FileGhost, MTime: testTime},
	)
	return entries
}

// TestRPMInstall installs packages with each compressor into a scratch root
// with rpm -i and checks them with rpm -V.
func TestRPMInstall(t *testing.T) {
	for _, tc := range []struct {
		name, compression string
		largeLimit        int64
		extra             int // bytes of one more, incompressible file
	}{
		{"gzip", "gzip", 0, 0},
		{"xz", "xz:1", 0, 0},
		// Several xz blocks compressed in parallel (pkg/xzmt), read back
		// by rpm's liblzma.
		{"xz blocks", "xz", 0, 3*xzBlockSize + 12345},
		{"zstd", "zstd", 0, 0},
		{"none", "none", 0, 0},
		// 64-bit sizes and stripped cpio headers as for files of 4 GiB.
		{"long sizes", "zstd", 1000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.largeLimit > 0 {
				defer func(old int64) { largeLimit = old }(largeLimit)
				largeLimit = tc.largeLimit
			}
			e := newRPMEnv(t, "rpm", "rpm2cpio", "cpio")
			md := sampleMetadata()
			md.Scripts = Scripts{} // an empty root has no /bin/sh
			md.Compression = tc.compression
			entries := installEntries()
			if tc.extra > 0 {
				noise := make([]byte, tc.extra)
				rand.NewChaCha8([32]byte{1}).Read(noise)
				entries = append(entries, regular("/opt/demo/lib/noise.bin", 0o644, string(noise)))
			}
			p, _ := writeFile(t, md, entries, Options{})

			if out := e.run("rpm", "-K", p); !strings.HasSuffix(out, " digests OK\n") {
				t.Fatalf("rpm -K: %s", out)
			}
			cpioOut, cpioErr, err := e.try("bash", "-c", "set -o pipefail; rpm2cpio "+p+" | cpio -t --quiet")
			if tc.largeLimit > 0 {
				// rpm's own answer for packages with LONGFILESIZES.
				if err == nil || !strings.Contains(cpioErr, "files over 4GB not supported by cpio") {
					t.Errorf("rpm2cpio of a large-file package: %v %s", err, cpioErr)
				}
			} else if err != nil || !strings.Contains(cpioOut, "./opt/demo/lib/data.bin\n") {
				t.Errorf("rpm2cpio | cpio -t: %v\n%s%s", err, cpioOut, cpioErr)
			}

			e.run("rpm", "-i", "--nodeps", "--force-debian", p)
			if out := e.run("rpm", "-V", "--nodeps", "demo"); out != "" {
				t.Errorf("rpm -V: %s", out)
			}
			if out := e.run("rpm", "-q", "demo"); out != "demo-1.2-3.x86_64\n" {
				t.Errorf("rpm -q: %s", out)
			}
			for _, ent := range entries {
				fi, err := os.Lstat(filepath.Join(e.root, ent.Path))
				if ent.Flags&FileGhost != 0 {
					if err == nil {
						t.Errorf("%s: ghost installed", ent.Path)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", ent.Path, err)
					continue
				}
				if fi.Mode() != ent.Mode {
					t.Errorf("%s: mode %v, want %v", ent.Path, fi.Mode(), ent.Mode)
				}
				switch {
				case ent.Mode.IsRegular():
					got, _ := os.ReadFile(filepath.Join(e.root, ent.Path))
					rc, _ := ent.Open()
					want, _ := io.ReadAll(rc)
					if !bytes.Equal(got, want) {
						t.Errorf("%s: installed %d bytes differ from %d packaged", ent.Path, len(got), len(want))
					}
				case ent.Mode&os.ModeSymlink != 0:
					if l, _ := os.Readlink(filepath.Join(e.root, ent.Path)); l != ent.Link {
						t.Errorf("%s: links to %q, want %q", ent.Path, l, ent.Link)
					}
				}
			}
			e.run("rpm", "-e", "--nodeps", "demo")
			if _, err := os.Stat(filepath.Join(e.root, "opt/demo/bin/hello")); err == nil {
				t.Error("rpm -e left /opt/demo/bin/hello")
			}
		})
	}
}

// TestLongSizeTags checks the 64-bit code paths with a lowered threshold:
// LONGFILESIZES, LONGSIZE, LONGSIZE/LONGARCHIVESIZE in the signature,
// rpmlib(LargeFiles) and stripped cpio headers.
func TestLongSizeTags(t *testing.T) {
	defer func(old int64) { largeLimit = old }(largeLimit)
	largeLimit = 1000
	e := newRPMEnv(t, "rpm")
	p, res := writeFile(t, sampleMetadata(), installEntries(), Options{})
	if !slices.Contains(res.Requires, rpmlibFeature("LargeFiles", "4.12.0-1")) {
		t.Errorf("Requires lacks rpmlib(LargeFiles): %v", res.Requires)
	}
	out := e.run("rpm", "-qp", "--qf", "%{SIZE} %{LONGSIZE} [%{LONGFILESIZES},]\n", p)
	if want := "(none) 300035 0,5,0,19,0,6,5,0,300000,0,\n"; out != want {
		t.Errorf("sizes: %q, want %q", out, want)
	}
	pkg, _ := os.ReadFile(p)
	sigRaw, err := readHeaderBytes(bytes.NewReader(pkg[leadSize:]))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := parseHeader(sigRaw)
	for _, tag := range []uint32{sigTagLongSize, sigTagLongArchiveSize} {
		if e, ok := sig.entries[tag]; !ok || e.typ != typeInt64 {
			t.Errorf("signature tag %d missing or not INT64", tag)
		}
	}
	if sig.has(sigTagSize) || sig.has(sigTagPayloadSize) {
		t.Error("32-bit size tags next to the 64-bit ones")
	}
	// Same signature header size as a package with 32-bit sizes.
	largeLimit = 1<<32 - 1
	_, small := writeFile(t, sampleMetadata(), installEntries(), Options{})
	if res.HeaderStart != small.HeaderStart {
		t.Errorf("signature header ends at %d, with 32-bit sizes at %d", res.HeaderStart, small.HeaderStart)
	}
	// go-rpmutils reads stripped headers too.
	_, _, contents := readBack(t, pkg)
	if len(contents["/opt/demo/lib/data.bin"]) != 300000 {
		t.Errorf("read back %d bytes of data.bin", len(contents["/opt/demo/lib/data.bin"]))
	}
}

// TestMatchesRPMBuild builds testdata/rpm/demo.spec with rpmbuild and checks
// that every header tag the writer shares with it has the same type and
// value, and that the cpio archives are identical.
func TestMatchesRPMBuild(t *testing.T) {
	e := newRPMEnv(t, "rpmbuild", "rpm")
	spec, err := filepath.Abs(filepath.Join(goldenDir, "demo.spec"))
	if err != nil {
		t.Fatal(err)
	}
	c := e.cmd("rpmbuild", "-bb", spec,
		"--define", "_buildhost vm",
		"--define", "use_source_date_epoch_as_buildtime 1",
		"--define", "clamp_mtime_to_source_date_epoch 1",
		"--define", "_binary_payload w9.gzdio")
	c.Env = append(c.Env, fmt.Sprintf("SOURCE_DATE_EPOCH=%d", testTime.Unix()))
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	ref, err := os.ReadFile(filepath.Join(e.dir, "top/RPMS/x86_64/demo-1.2-3.x86_64.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	md := sampleMetadata()
	md.Compression = "gzip:9"
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, md, sampleEntries(), Options{}); err != nil {
		t.Fatal(err)
	}
	ours := buf.Bytes()

	if !bytes.Equal(ours[:leadSize], ref[:leadSize]) {
		t.Errorf("lead differs:\n% x\n% x", ours[:leadSize], ref[:leadSize])
	}
	oursSig, oursHdr := splitPackage(t, ours)
	refSig, refHdr := splitPackage(t, ref)
	if len(oursSig) != len(refSig) {
		t.Errorf("signature header is %d bytes, rpmbuild's %d", len(oursSig), len(refSig))
	}
	compareHeaders(t, "signature", oursSig, refSig, map[uint32]string{
		sigTagSHA1: "digest", sigTagSHA256: "digest", sigTagMD5: "digest", sigTagSize: "size",
	})
	if len(refHdr) < 1000 {
		t.Fatalf("rpmbuild's header is only %d bytes", len(refHdr))
	}
	compareHeaders(t, "main", oursHdr, refHdr, map[uint32]string{
		1122:             "OPTFLAGS: compiler flags, nothing is compiled",
		1141:             "FILECLASS: libmagic descriptions",
		1142:             "CLASSDICT: libmagic descriptions",
		tagPlatform:      "PLATFORM: Debian's rpm says x86_64-debian-linux",
		tagPayloadDigest: "zlib and pgzip compress differently",
	})
}

// splitPackage returns the signature and main headers of an rpm file.
func splitPackage(t *testing.T, pkg []byte) (sig, hdr []byte) {
	t.Helper()
	r := bytes.NewReader(pkg[leadSize:])
	sig, err := readHeaderBytes(r)
	if err != nil {
		t.Fatal(err)
	}
	r.Seek(int64(padLen(len(sig))), io.SeekCurrent)
	hdr, err = readHeaderBytes(r)
	if err != nil {
		t.Fatal(err)
	}
	return sig, hdr
}

// compareHeaders reports tags whose presence, type or (unless listed in
// ignoreValue) value differ.
func compareHeaders(t *testing.T, what string, ours, ref []byte, ignoreValue map[uint32]string) {
	t.Helper()
	a, err := parseHeader(ours)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseHeader(ref)
	if err != nil {
		t.Fatal(err)
	}
	for tag, eb := range b.entries {
		ea, ok := a.entries[tag]
		_, ignored := ignoreValue[tag]
		switch {
		case !ok && !ignored:
			t.Errorf("%s header: tag %d missing (rpmbuild: type %d count %d %q)", what, tag, eb.typ, eb.count, eb.data)
		case !ok:
		case ea.typ != eb.typ:
			t.Errorf("%s header: tag %d has type %d, rpmbuild %d", what, tag, ea.typ, eb.typ)
		case !ignored && (ea.count != eb.count || !bytes.Equal(ea.data, eb.data)):
			t.Errorf("%s header: tag %d = %q (%d), rpmbuild %q (%d)", what, tag, ea.data, ea.count, eb.data, eb.count)
		}
	}
	for tag := range a.entries {
		if _, ok := b.entries[tag]; !ok {
			t.Errorf("%s header: tag %d not written by rpmbuild", what, tag)
		}
	}
	t.Logf("%s header: %d tags, rpmbuild %d", what, len(a.entries), len(b.entries))
}
