package elfdeps

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

const (
	psycopg = "../../testdata/venv/fixture/venv/lib/python3.11/site-packages/psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so"
	elf32   = "../../testdata/venv/elf/libfoo32.so.1"
)

func TestInspectFixtures(t *testing.T) {
	for _, tc := range []struct {
		path     string
		machine  elf.Machine
		class    elf.Class
		soname   string
		needed   []string
		requires []string
	}{
		{psycopg, elf.EM_X86_64, elf.ELFCLASS64, "", []string{"libpq.so.5", "libc.so.6"},
			[]string{"libc.so.6()(64bit)", "libpq.so.5()(64bit)"}},
		{elf32, elf.EM_386, elf.ELFCLASS32, "libfoo.so.1", []string{"libbar.so.2"},
			[]string{"libbar.so.2"}},
	} {
		t.Run(tc.path[strings.LastIndex(tc.path, "/")+1:], func(t *testing.T) {
			info, ok, err := InspectFile(tc.path)
			if err != nil || !ok {
				t.Fatalf("InspectFile = %v, %v, %v", info, ok, err)
			}
			if info.Path != tc.path || info.Machine != tc.machine || info.Class != tc.class || info.Soname != tc.soname {
				t.Errorf("got %+v, want machine %v class %v soname %q", info, tc.machine, tc.class, tc.soname)
			}
			if !slices.Equal(info.Needed, tc.needed) {
				t.Errorf("Needed = %q, want %q", info.Needed, tc.needed)
			}
			if got := info.Requires(); !slices.Equal(got, tc.requires) {
				t.Errorf("Requires() = %q, want %q", got, tc.requires)
			}
		})
	}
}

func TestInspectHostBinaries(t *testing.T) {
	for _, tc := range []struct {
		path       string
		wantNeeded string // one entry that must be present
		wantSoname string
	}{
		{"/bin/ls", "libc.so.6", ""},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", "ld-linux-x86-64.so.2", "libc.so.6"},
		{"/lib64/ld-linux-x86-64.so.2", "", "ld-linux-x86-64.so.2"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if _, err := os.Stat(tc.path); err != nil {
				t.Skip(err)
			}
			info, ok, err := InspectFile(tc.path)
			if err != nil || !ok {
				t.Fatalf("InspectFile = %v, %v, %v", info, ok, err)
			}
			if tc.wantNeeded != "" && !slices.Contains(info.Needed, tc.wantNeeded) {
				t.Errorf("Needed = %q, want it to contain %q", info.Needed, tc.wantNeeded)
			}
			if info.Soname != tc.wantSoname {
				t.Errorf("Soname = %q, want %q", info.Soname, tc.wantSoname)
			}
			if _, err := Arch(info.Machine); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestInspectNotELF(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"short", "\x7fEL"},
		{"script", "#!/bin/sh\necho hi\n"},
		{"almost magic", "\x7fELG rest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &countingReaderAt{r: strings.NewReader(tc.data)}
			info, ok, err := Inspect(r)
			if info != nil || ok || err != nil {
				t.Errorf("Inspect = %v, %v, %v; want nil, false, nil", info, ok, err)
			}
			if r.n > 4 {
				t.Errorf("read %d bytes, want at most the 4 magic bytes", r.n)
			}
		})
	}
	// The shebang script in the fixture is not ELF either.
	info, ok, err := InspectFile("../../testdata/venv/fixture/venv/bin/pip3")
	if info != nil || ok || err != nil {
		t.Errorf("InspectFile(pip3) = %v, %v, %v", info, ok, err)
	}
}

type countingReaderAt struct {
	r interface {
		ReadAt([]byte, int64) (int, error)
	}
	n int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += n
	return n, err
}

func TestInspectErrors(t *testing.T) {
	data, err := os.ReadFile(psycopg)
	if err != nil {
		t.Fatal(err)
	}
	_, ok, err := Inspect(bytes.NewReader(data[:100]))
	if err == nil || !ok || !strings.Contains(err.Error(), "not a valid ELF file") {
		t.Errorf("truncated ELF: ok=%v err=%v, want ok and a 'not a valid ELF file' error", ok, err)
	}
	_, _, err = InspectFile("/nonexistent/x.so")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/x.so") {
		t.Errorf("missing file error %v should name the path", err)
	}
	bad := slices.Clone(data)
	bad[elf.EI_CLASS] = 9
	_, _, err = InspectFile(writeTemp(t, bad))
	if err == nil || !strings.Contains(err.Error(), "x.so") {
		t.Errorf("bad class error %v should name the file", err)
	}
	_, ok, err = Inspect(errReaderAt{})
	if ok || !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "reading ELF magic") {
		t.Errorf("read error: ok=%v err=%v", ok, err)
	}
}

type errReaderAt struct{}

func (errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, os.ErrPermission }

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := t.TempDir() + "/x.so"
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInspectOtherMachine patches e_machine of the x86-64 fixture to aarch64:
// the dynamic section is still read and Arch maps the machine.
func TestInspectOtherMachine(t *testing.T) {
	data, err := os.ReadFile(psycopg)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint16(data[18:], uint16(elf.EM_AARCH64))
	info, ok, err := Inspect(bytes.NewReader(data))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	arch, err := Arch(info.Machine)
	if arch != "aarch64" || err != nil || !slices.Contains(info.Needed, "libpq.so.5") {
		t.Errorf("Arch = %q, %v; Needed %q", arch, err, info.Needed)
	}
}

func TestRequireName(t *testing.T) {
	for _, tc := range []struct {
		soname string
		class  elf.Class
		want   string
	}{
		{"libpq.so.5", elf.ELFCLASS64, "libpq.so.5()(64bit)"},
		{"libpq.so.5", elf.ELFCLASS32, "libpq.so.5"},
		{"ld-linux-x86-64.so.2", elf.ELFCLASS64, "ld-linux-x86-64.so.2()(64bit)"},
	} {
		if got := RequireName(tc.soname, tc.class); got != tc.want {
			t.Errorf("RequireName(%q, %v) = %q, want %q", tc.soname, tc.class, got, tc.want)
		}
	}
}

func TestRequiresFilter(t *testing.T) {
	info := &Info{Class: elf.ELFCLASS64, Needed: []string{
		"libz.so.1", "libc.so.6", "libz.so.1", // duplicate
		"ld-linux-x86-64.so.2", "ld64.so.2", // dynamic linkers are kept
		"  ", "", // blank
		"_private.cpython-311-x86_64-linux-gnu.so", // not lib*
		"libnotashared", // no .so
	}}
	want := []string{"ld-linux-x86-64.so.2()(64bit)", "ld64.so.2()(64bit)", "libc.so.6()(64bit)", "libz.so.1()(64bit)"}
	if got := info.Requires(); !slices.Equal(got, want) {
		t.Errorf("Requires() = %q, want %q", got, want)
	}
}

func TestArch(t *testing.T) {
	for _, tc := range []struct {
		m    elf.Machine
		want string
	}{
		{elf.EM_X86_64, "x86_64"},
		{elf.EM_AARCH64, "aarch64"},
		{elf.EM_PPC64, "ppc64le"},
		{elf.EM_S390, "s390x"},
		{elf.EM_386, "i686"},
	} {
		if got, err := Arch(tc.m); got != tc.want || err != nil {
			t.Errorf("Arch(%v) = %q, %v; want %q", tc.m, got, err, tc.want)
		}
	}
	if _, err := Arch(elf.EM_SPARCV9); err == nil || !strings.Contains(err.Error(), "EM_SPARCV9") {
		t.Errorf("Arch(EM_SPARCV9) error = %v, want one naming the machine", err)
	}
}
