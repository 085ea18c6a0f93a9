// Package elfdeps reads the shared-library requirements of ELF files the way
// rpm's elfdeps generator does, so packages that ship compiled Python
// extensions (for example psycopg2's _psycopg*.so needing libpq.so.5) get
// correct automatic Requires.
//
// Only the dynamic section is read (DT_NEEDED, DT_SONAME); symbol-version
// dependencies such as "libc.so.6(GLIBC_2.34)(64bit)" are not generated.
package elfdeps

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Info describes one ELF file.
type Info struct {
	Path    string // set by InspectFile (or the caller); empty from Inspect
	Machine elf.Machine
	Class   elf.Class
	Soname  string   // DT_SONAME, empty for executables and most extensions
	Needed  []string // DT_NEEDED entries in file order
}

var elfMagic = []byte(elf.ELFMAG)

// Inspect reads the ELF header and dynamic section from r. It returns
// ok=false and no error when r does not start with the ELF magic bytes (only
// those 4 bytes are read), so it is cheap to call on every payload file. A
// file with the magic but a broken structure is an error. A statically linked
// file has no dynamic section and yields an Info with no Needed entries.
func Inspect(r io.ReaderAt) (info *Info, ok bool, err error) {
	var magic [4]byte
	if n, err := r.ReadAt(magic[:], 0); n < len(magic) {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("elfdeps: reading ELF magic: %w", err)
	}
	if !bytes.Equal(magic[:], elfMagic) {
		return nil, false, nil
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, true, fmt.Errorf("elfdeps: not a valid ELF file (truncated or corrupt?): %w", err)
	}
	defer f.Close()
	info = &Info{Machine: f.Machine, Class: f.Class}
	info.Needed, err = f.DynString(elf.DT_NEEDED)
	if err != nil {
		return nil, true, fmt.Errorf("elfdeps: reading DT_NEEDED: %w", err)
	}
	sonames, err := f.DynString(elf.DT_SONAME)
	if err != nil {
		return nil, true, fmt.Errorf("elfdeps: reading DT_SONAME: %w", err)
	}
	if len(sonames) > 0 {
		info.Soname = sonames[0]
	}
	return info, true, nil
}

// InspectFile is Inspect on the file at path; Info.Path is set to path and
// errors name it.
func InspectFile(path string) (*Info, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("elfdeps: %w", err)
	}
	defer f.Close()
	info, ok, err := Inspect(f)
	if err != nil {
		return nil, ok, fmt.Errorf("%s: %w", path, err)
	}
	if info != nil {
		info.Path = path
	}
	return info, ok, nil
}

// RequireName renders a soname as the rpm dependency elfdeps writes:
// "libpq.so.5()(64bit)" for ELFCLASS64 and plain "libpq.so.5" for 32-bit
// objects. (rpm also leaves the marker off for 64-bit Alpha, which rpmforge
// does not target.)
func RequireName(soname string, class elf.Class) string {
	if class == elf.ELFCLASS64 {
		return soname + "()(64bit)"
	}
	return soname
}

// Requires returns the rpm Requires for i's DT_NEEDED entries, sorted and
// without duplicates. Like rpm's default soname filter it drops blank names
// and names that do not look like libraries: a name must contain ".so" and
// start with "lib" or be the dynamic linker ("ld-linux-x86-64.so.2",
// "ld64.so.2").
func (i *Info) Requires() []string {
	var reqs []string
	for _, n := range i.Needed {
		if skipSoname(n) {
			continue
		}
		reqs = append(reqs, RequireName(n, i.Class))
	}
	slices.Sort(reqs)
	return slices.Compact(reqs)
}

// skipSoname mirrors skipSoname() in rpm's tools/elfdeps.c with the default
// --filter-soname behaviour.
func skipSoname(s string) bool {
	if strings.TrimSpace(s) == "" || !strings.Contains(s, ".so") {
		return true
	}
	for _, p := range []string{"ld.", "ld-", "ld64.", "ld64-", "lib"} {
		if strings.HasPrefix(s, p) {
			return false
		}
	}
	return true
}

// Arch maps an ELF machine to the rpm architecture name of the packages built
// for it. EM_PPC64 is taken as little-endian "ppc64le" and EM_S390 as 64-bit
// "s390x", the only variants current distributions ship.
func Arch(m elf.Machine) (string, error) {
	switch m {
	case elf.EM_X86_64:
		return "x86_64", nil
	case elf.EM_AARCH64:
		return "aarch64", nil
	case elf.EM_PPC64:
		return "ppc64le", nil
	case elf.EM_S390:
		return "s390x", nil
	case elf.EM_386:
		return "i686", nil
	case elf.EM_RISCV:
		return "riscv64", nil
	}
	return "", fmt.Errorf("elfdeps: no rpm architecture known for ELF machine %v: build on x86_64, aarch64, ppc64le, s390x or i686, or set the package arch explicitly", m)
}
