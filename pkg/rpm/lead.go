package rpm

import "encoding/binary"

const leadSize = 96

// archNums are rpm's legacy lead architecture numbers (rpmrc arch_canon).
var archNums = map[string]uint16{
	"noarch": 1, "i386": 1, "i486": 1, "i586": 1, "i686": 1, "athlon": 1, "x86_64": 1,
	"alpha": 2, "sparc": 3, "sparc64": 3, "mips": 4, "ppc": 5, "m68k": 6, "ia64": 9,
	"mips64": 11, "armv7hl": 12, "armv7l": 12, "armv6hl": 12, "s390": 14, "s390x": 15,
	"ppc64": 16, "ppc64le": 16, "aarch64": 19, "riscv64": 22, "loongarch64": 23,
}

// lead returns the 96-byte legacy lead rpm still writes in front of the
// signature header: magic, format 3.0, binary, arch and os numbers, the
// package NEVR, and signature type 5 (header-style signature).
func lead(nevr, arch string) []byte {
	b := make([]byte, leadSize)
	copy(b, []byte{0xed, 0xab, 0xee, 0xdb, 3, 0})
	binary.BigEndian.PutUint16(b[6:], 0) // binary package
	an, ok := archNums[arch]
	if !ok {
		an = 1
	}
	binary.BigEndian.PutUint16(b[8:], an)
	if len(nevr) > 65 {
		nevr = nevr[:65]
	}
	copy(b[10:76], nevr)
	binary.BigEndian.PutUint16(b[76:], 1) // linux
	binary.BigEndian.PutUint16(b[78:], 5) // RPMSIGTYPE_HEADERSIG
	return b
}
