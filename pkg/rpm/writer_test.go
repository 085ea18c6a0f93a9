package rpm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"compress/gzip"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

// readBack parses a package with go-rpmutils, checks its digests and returns
// its header and the contents of every payload file.
func readBack(t testing.TB, pkg []byte) (*rpmutils.RpmHeader, map[string][]rpmutils.FileInfo, map[string]string) {
	t.Helper()
	if _, _, err := rpmutils.Verify(bytes.NewReader(pkg), nil); err != nil {
		t.Fatalf("go-rpmutils Verify: %v", err)
	}
	r, err := rpmutils.ReadRpm(bytes.NewReader(pkg))
	if err != nil {
		t.Fatalf("ReadRpm: %v", err)
	}
	files, err := r.Header.GetFiles()
	if err != nil {
		t.Fatalf("GetFiles: %v", err)
	}
	byName := map[string][]rpmutils.FileInfo{}
	for _, f := range files {
		byName[f.Name()] = append(byName[f.Name()], f)
	}
	if r.Header.HasTag(rpmutils.LONGFILESIZES) {
		// go-rpmutils v0.4.0 misreads rpm's stripped cpio headers (it
		// does not skip the padding after them), so read those here.
		return r.Header, byName, readStripped(t, pkg, r.Header, files)
	}
	pr, err := r.PayloadReaderExtended()
	if err != nil {
		t.Fatalf("PayloadReaderExtended: %v", err)
	}
	contents := map[string]string{}
	for {
		fi, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("payload Next: %v", err)
		}
		b, err := io.ReadAll(pr)
		if err != nil {
			t.Fatalf("payload %s: %v", fi.Name(), err)
		}
		contents[fi.Name()] = string(b)
	}
	return r.Header, byName, contents
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestWriteReadBack(t *testing.T) {
	for _, comp := range []string{"", "gzip:1", "gzip:9", "xz", "xz:1", "zstd", "zstd:19", "none"} {
		t.Run("compression="+comp, func(t *testing.T) {
			md := sampleMetadata()
			md.Compression = comp
			entries := sampleEntries()
			big := strings.Repeat("0123456789abcdef", 300_000) // 4.8 MB: several compressor blocks
			entries = append(entries, regular("/opt/demo/big", 0o600, big))
			var buf bytes.Buffer
			res, err := Write(context.Background(), &buf, md, entries, Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			hdr, files, contents := readBack(t, buf.Bytes())

			c, _ := parseCompression(comp)
			for tag, want := range map[int]string{
				rpmutils.NAME: "demo", rpmutils.VERSION: "1.2", rpmutils.RELEASE: "3", rpmutils.ARCH: "x86_64",
				rpmutils.OS: "linux", rpmutils.LICENSE: "MIT", rpmutils.PAYLOADFORMAT: "cpio",
				rpmutils.SOURCERPM: "demo-1.2-3.src.rpm", rpmutils.ENCODING: "utf-8",
			} {
				if got, err := hdr.GetString(tag); err != nil || got != want {
					t.Errorf("tag %d = %q, %v; want %q", tag, got, err, want)
				}
			}
			if got, _ := hdr.GetString(rpmutils.PAYLOADCOMPRESSOR); got != c.compressor() {
				t.Errorf("PAYLOADCOMPRESSOR = %q, want %q", got, c.compressor())
			}
			if got, _ := hdr.GetStrings(rpmutils.PAYLOADDIGEST); len(got) != 1 || got[0] != res.PayloadSHA256 {
				t.Errorf("PAYLOADDIGEST = %q, Result says %s", got, res.PayloadSHA256)
			}
			if got, _ := hdr.InstalledSize(); got != res.InstalledSize || got != int64(len(big))+16 {
				t.Errorf("InstalledSize = %d, Result says %d", got, res.InstalledSize)
			}
			if rg := hdr.GetRange(); int64(rg.Start) != res.HeaderStart || int64(rg.End) != res.HeaderEnd {
				t.Errorf("header range %+v, Result says %d-%d", rg, res.HeaderStart, res.HeaderEnd)
			}
			if res.Files != len(entries) || len(files) != len(entries) {
				t.Errorf("Result.Files = %d, header has %d, want %d", res.Files, len(files), len(entries))
			}

			for _, e := range entries {
				fi := files[e.Path]
				if len(fi) != 1 {
					t.Errorf("%s: %d header entries", e.Path, len(fi))
					continue
				}
				f := fi[0]
				pf, _ := prepareFile(&e)
				if uint32(f.Mode()) != pf.mode || f.UserName() != "root" || f.GroupName() != "root" ||
					f.Mtime() != int(testTime.Unix()) || f.Linkname() != e.Link || f.Flags() != int(pf.flags) {
					t.Errorf("%s: mode %o user %s group %s mtime %d link %q flags %d", e.Path, f.Mode(), f.UserName(), f.GroupName(), f.Mtime(), f.Linkname(), f.Flags())
				}
				got, inPayload := contents[e.Path]
				if !inPayload {
					t.Errorf("%s: not in payload", e.Path)
				}
				switch {
				case e.Mode.IsRegular():
					want := big
					if e.Open != nil && e.Path != "/opt/demo/big" {
						rc, _ := e.Open()
						b, _ := io.ReadAll(rc)
						want = string(b)
					}
					if got != want || f.Size() != int64(len(want)) || f.Digest() != sha256hex(want) {
						t.Errorf("%s: size %d digest %s, payload %d bytes", e.Path, f.Size(), f.Digest(), len(got))
					}
				case e.Mode&fs.ModeSymlink != 0:
					if got != e.Link || f.Size() != int64(len(e.Link)) || f.Digest() != "" {
						t.Errorf("%s: symlink payload %q size %d digest %q", e.Path, got, f.Size(), f.Digest())
					}
				default:
					if got != "" || f.Size() != 0 || f.Digest() != "" {
						t.Errorf("%s: directory payload %q size %d digest %q", e.Path, got, f.Size(), f.Digest())
					}
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, comp := range []string{"gzip", "zstd", "xz", "none"} {
		t.Run(comp, func(t *testing.T) {
			md := sampleMetadata()
			md.Compression = comp
			write := func(procs int) []byte {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				entries := sampleEntries()
				// Shuffled input order must not matter either.
				slices.Reverse(entries)
				entries = append(entries, regular("/opt/demo/big", 0o644, strings.Repeat("abc", 7_000_000)))
				var buf bytes.Buffer
				if _, err := Write(context.Background(), &buf, md, entries, Options{}); err != nil {
					t.Fatal(err)
				}
				return buf.Bytes()
			}
			a, b, c := write(1), write(4), write(runtime.NumCPU())
			if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
				t.Fatalf("outputs differ: %d, %d, %d bytes", len(a), len(b), len(c))
			}
		})
	}
}

func TestNoBuildTime(t *testing.T) {
	md := sampleMetadata()
	md.BuildTime = time.Time{}
	md.BuildHost = ""
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, md, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	hdr, files, _ := readBack(t, buf.Bytes())
	if hdr.HasTag(rpmutils.BUILDTIME) {
		t.Error("BUILDTIME written although unset")
	}
	if h, _ := hdr.GetString(rpmutils.BUILDHOST); h != "localhost" {
		t.Errorf("BUILDHOST = %q, want the default localhost", h)
	}
	if len(files) != 0 {
		t.Errorf("%d files in a package without entries", len(files))
	}
}

// failingReader yields n bytes, then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

func TestWriteErrors(t *testing.T) {
	errDisk := errors.New("disk on fire")
	tests := []struct {
		name    string
		entries []Entry
		wantErr string
		is      error
	}{
		{"grew", []Entry{{Path: "/a", Size: 10, Open: content("0123456789ab")}}, "rpm: /a: size changed while packaging (stat 10, read 12)", ErrSizeChanged},
		{"shrank", []Entry{{Path: "/a", Size: 10, Open: content("01234")}}, "rpm: /a: size changed while packaging (stat 10, read 5)", ErrSizeChanged},
		{"open", []Entry{{Path: "/a", Size: 1, Open: func() (io.ReadCloser, error) { return nil, errDisk }}}, "rpm: /a: disk on fire", errDisk},
		{"read", []Entry{{Path: "/a", Size: 1 << 20, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(&failingReader{n: 1000, err: errDisk}), nil
		}}}, "rpm: /a: read: disk on fire", errDisk},
		{"no open", []Entry{{Path: "/a", Size: 3}}, "rpm: /a: regular file of 3 bytes has no Open", nil},
		{"relative", []Entry{{Path: "a/b", Mode: fs.ModeDir}}, `rpm: "a/b": path must be absolute and not /`, nil},
		{"root", []Entry{{Path: "/", Mode: fs.ModeDir}}, `rpm: "/": path must be absolute and not /`, nil},
		{"unclean", []Entry{{Path: "/a/../b", Mode: fs.ModeDir}}, "rpm: /a/../b: path is not clean (want /b)", nil},
		{"trailing slash", []Entry{{Path: "/a/", Mode: fs.ModeDir}}, "rpm: /a/: path is not clean (want /a)", nil},
		{"twice", []Entry{dir("/a"), regular("/a", 0o644, "")}, "rpm: /a: listed twice", nil},
		{"device", []Entry{{Path: "/dev/x", Mode: fs.ModeDevice}}, "rpm: /dev/x: unsupported file type D---------", nil},
		{"symlink", []Entry{{Path: "/l", Mode: fs.ModeSymlink}}, `rpm: /l: symlink target "" must be non-empty UTF-8 without NUL or newline`, nil},
		{"owner", []Entry{{Path: "/d", Mode: fs.ModeDir, Owner: "a b"}}, `rpm: /d: invalid owner or group "a b"`, nil},
		{"negative", []Entry{{Path: "/n", Size: -1}}, "rpm: /n: negative size -1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tmp := t.TempDir()
			_, err := Write(context.Background(), &buf, sampleMetadata(), tt.entries, Options{TempDir: tmp})
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Write error = %v\nwant %s", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written despite the error", buf.Len())
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temp files left behind: %v", left)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var buf bytes.Buffer
	entries := []Entry{{Path: "/a", Size: 10 << 20, Open: func() (io.ReadCloser, error) {
		cancel()
		return io.NopCloser(&failingReader{n: 10 << 20}), nil
	}}}
	_, err := Write(ctx, &buf, sampleMetadata(), entries, Options{})
	if !errors.Is(err, context.Canceled) || buf.Len() != 0 {
		t.Fatalf("Write = %v with %d bytes written, want context.Canceled and nothing", err, buf.Len())
	}
}

func TestProgressAndOpenOnce(t *testing.T) {
	opens := map[string]int{}
	var entries []Entry
	var total int64
	for i := range 5 {
		body := strings.Repeat("x", i*300_000)
		e := regular(fmt.Sprintf("/f%d", i), 0o644, body)
		e.Open = func() (io.ReadCloser, error) { opens[e.Path]++; return content(body)() }
		entries = append(entries, e)
		total += int64(len(body))
	}
	var last, calls int64
	opt := Options{Progress: func(done, tot int64) {
		if tot != total || done < last || done > tot {
			t.Fatalf("progress %d/%d after %d (want total %d)", done, tot, last, total)
		}
		last = done
		calls++
	}}
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, sampleMetadata(), entries, opt); err != nil {
		t.Fatal(err)
	}
	if last != total || calls < 5 {
		t.Errorf("progress ended at %d/%d after %d calls", last, total, calls)
	}
	for _, e := range entries {
		if opens[e.Path] != 1 && e.Size > 0 {
			t.Errorf("%s opened %d times", e.Path, opens[e.Path])
		}
	}
}

func TestGhostAndFlags(t *testing.T) {
	ghost := Entry{Path: "/var/log/demo.log", Mode: 0o640, Owner: "demo", Group: "adm", Flags: FileGhost, MTime: testTime}
	doc := regular("/usr/share/doc/demo/README", 0o644, "read me\n")
	doc.Flags = FileDoc
	lic := regular("/usr/share/licenses/demo/LICENSE", 0o644, "MIT\n")
	lic.Flags = FileLicense
	cfgDir := dir("/etc/demo")
	cfgDir.Flags = FileConfig // dropped on directories, as rpmbuild does
	suid := regular("/usr/bin/demo", 0o755|fs.ModeSetuid, "#!/bin/sh\n")
	suid.Owner, suid.Group = "demo", "demo"
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, sampleMetadata(), []Entry{ghost, doc, lic, cfgDir, suid}, Options{}); err != nil {
		t.Fatal(err)
	}
	_, files, contents := readBack(t, buf.Bytes())
	if _, ok := contents[ghost.Path]; ok {
		t.Error("ghost file in payload")
	}
	for path, want := range map[string]struct {
		flags       int
		mode        int
		user, group string
	}{
		ghost.Path:  {int(FileGhost), 0o100640, "demo", "adm"},
		doc.Path:    {int(FileDoc), 0o100644, "root", "root"},
		lic.Path:    {int(FileLicense), 0o100644, "root", "root"},
		cfgDir.Path: {0, 0o40755, "root", "root"},
		suid.Path:   {0, 0o104755, "demo", "demo"},
	} {
		f := files[path][0]
		if f.Flags() != want.flags || f.Mode() != want.mode || f.UserName() != want.user || f.GroupName() != want.group {
			t.Errorf("%s: flags %d mode %o %s:%s, want %+v", path, f.Flags(), f.Mode(), f.UserName(), f.GroupName(), want)
		}
	}
}

// readStripped reads the payload of pkg, made of stripped cpio headers,
// into memory.
func readStripped(t testing.TB, pkg []byte, hdr *rpmutils.RpmHeader, files []rpmutils.FileInfo) map[string]string {
	t.Helper()
	contents := map[string]string{}
	err := walkStripped(bytes.NewReader(pkg[hdr.GetRange().End:]), hdr, files, func(f rpmutils.FileInfo, r io.Reader) error {
		b, err := io.ReadAll(r)
		contents[f.Name()] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return contents
}

// walkStripped decompresses a payload and streams its cpio archive of
// stripped headers ("07070X" + file index, padded to 4; rpm's lib/cpio.c)
// to fn, which must consume the data.
func walkStripped(payload io.Reader, hdr *rpmutils.RpmHeader, files []rpmutils.FileInfo, fn func(rpmutils.FileInfo, io.Reader) error) error {
	comp, _ := hdr.GetString(rpmutils.PAYLOADCOMPRESSOR)
	var zr io.Reader = payload
	var err error
	switch comp {
	case "gzip":
		zr, err = gzip.NewReader(payload)
	case "zstd":
		var d *zstd.Decoder
		d, err = zstd.NewReader(payload)
		if err == nil {
			defer d.Close()
		}
		zr = d
	case "xz":
		zr, err = xz.NewReader(payload)
	}
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(zr, 1<<20)
	var off int64
	read := func(n int) ([]byte, error) {
		b := make([]byte, n)
		_, err := io.ReadFull(br, b)
		off += int64(n)
		return b, err
	}
	align := func() error {
		_, err := read(int((4 - off%4) % 4))
		return err
	}
	for {
		if err := align(); err != nil {
			return err
		}
		magic, err := read(6)
		if err != nil {
			return err
		}
		if string(magic) == cpioNewcMagic {
			rest, err := read(104 + len(cpioTrailer) + 1)
			if err != nil || !strings.HasSuffix(string(rest), cpioTrailer+"\x00") {
				return fmt.Errorf("newc entry other than the trailer in a stripped archive at %d", off)
			}
			if err := align(); err != nil {
				return err
			}
			if n, _ := io.Copy(io.Discard, br); n != 0 {
				return fmt.Errorf("archive has %d bytes after the trailer", n)
			}
			return nil
		}
		if string(magic) != cpioStrippedMagic {
			return fmt.Errorf("bad cpio magic %q at %d", magic, off)
		}
		idx, err := read(8)
		if err != nil {
			return err
		}
		fx, err := strconv.ParseUint(string(idx), 16, 32)
		if err != nil || int(fx) >= len(files) {
			return fmt.Errorf("bad file index %q", idx)
		}
		if err := align(); err != nil {
			return err
		}
		f := files[fx]
		n := f.Size()
		if f.Mode()&0o170000 == 0o040000 {
			n = 0
		}
		lr := &io.LimitedReader{R: br, N: n}
		if err := fn(f, lr); err != nil {
			return err
		}
		if lr.N != 0 {
			return fmt.Errorf("%s: %d bytes left unread", f.Name(), lr.N)
		}
		off += n
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, comp := range []string{"gzip", "zstd", "xz", "none"} {
		md := sampleMetadata()
		md.Compression = comp
		entries := []Entry{
			regular("/a", 0o644, strings.Repeat("a", 3<<20)),
			{Path: "/b", Size: 5 << 20, Open: func() (io.ReadCloser, error) {
				return io.NopCloser(&failingReader{n: 4 << 20, err: errors.New("boom")}), nil
			}},
		}
		if _, err := Write(context.Background(), io.Discard, md, entries, Options{}); err == nil {
			t.Fatalf("%s: no error", comp)
		}
		if _, err := Write(context.Background(), io.Discard, md, entries[:1], Options{}); err != nil {
			t.Fatalf("%s: %v", comp, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before, %d after", before, n)
	}
}

// TestMemoryFlat checks that the heap Write uses does not grow with the size
// of the payload.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 400 MB")
	}
	peakHeap := func(comp string, size int64) uint64 {
		md := sampleMetadata()
		md.Compression = comp
		entries, _ := genTree(50, size)
		runtime.GC()
		runtime.GC() // twice: sync.Pools keep their contents through one
		var peak uint64
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
				select {
				case <-done:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		_, err := Write(context.Background(), io.Discard, md, entries, Options{})
		close(done)
		<-sampled
		if err != nil {
			t.Fatal(err)
		}
		return peak
	}
	textCorpus() // generated once, outside the measurement
	// Collect often, so that the heap follows what is live.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for _, comp := range []string{"gzip:1", "zstd:1", "none"} {
		small, large := peakHeap(comp, 40<<20), peakHeap(comp, 160<<20)
		t.Logf("%s: heap peaks at %d MB for 40 MB of files, %d MB for 160 MB", comp, small>>20, large>>20)
		if large > small+small/2+16<<20 {
			t.Errorf("%s: heap peaks at %d bytes for 40 MB of files, %d for 160 MB", comp, small, large)
		}
	}
}
