package rpm

import (
	"fmt"
	"io"
)

// cpio writes the payload archive the way rpm's lib/cpio.c does:
//
//   - newc ("070701") headers naming "./path" (PayloadFilesHavePrefix), with
//     inode = file index + 1, uid/gid 0, nlink 1, device 0:0, data padded to 4;
//   - for packages with files of 4 GiB or more (LONGFILESIZES), rpm's
//     stripped headers instead: "07070X" + 8 hex digits of the file's index in
//     the header, padded to 4; all metadata comes from the header;
//   - a newc "TRAILER!!!" entry, padded to 4.
type cpio struct {
	w   io.Writer
	off int64 // bytes written
	buf []byte
}

const (
	cpioNewcMagic     = "070701"
	cpioStrippedMagic = "07070X"
	cpioTrailer       = "TRAILER!!!"
	cpioMaxFileSize   = 1<<32 - 1 // newc size field; rpm refuses >= this
)

var zeros [4]byte

func (c *cpio) write(b []byte) error {
	n, err := c.w.Write(b)
	c.off += int64(n)
	return err
}

// pad writes zeros up to the next multiple of 4.
func (c *cpio) pad() error {
	if n := (4 - c.off%4) % 4; n > 0 {
		return c.write(zeros[:n])
	}
	return nil
}

func appendHex8(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for s := 28; s >= 0; s -= 4 {
		b = append(b, digits[(v>>uint(s))&0xf])
	}
	return b
}

// header writes a newc header for name (without the "./" prefix's dot: pass
// the absolute path).
func (c *cpio) header(ino, mode, mtime uint32, size int64, absPath string) error {
	if size >= cpioMaxFileSize {
		return fmt.Errorf("rpm: %s: %d bytes is too large for a newc cpio header", absPath, size)
	}
	if err := c.pad(); err != nil {
		return err
	}
	b := append(c.buf[:0], cpioNewcMagic...)
	for _, v := range []uint64{
		uint64(ino), uint64(mode), 0, 0, 1, uint64(mtime), uint64(size),
		0, 0, // device major, minor
		0, 0, // rdev
		uint64(len(absPath) + 2), // "." + path + NUL
		0,                        // checksum
	} {
		b = appendHex8(b, v)
	}
	b = append(b, '.')
	b = append(b, absPath...)
	b = append(b, 0)
	c.buf = b
	if err := c.write(b); err != nil {
		return err
	}
	return c.pad()
}

// stripped writes rpm's stripped header for the file at index fx.
func (c *cpio) stripped(fx int) error {
	if err := c.pad(); err != nil {
		return err
	}
	b := append(c.buf[:0], cpioStrippedMagic...)
	b = appendHex8(b, uint64(fx))
	c.buf = b
	if err := c.write(b); err != nil {
		return err
	}
	return c.pad()
}

// trailer ends the archive.
func (c *cpio) trailer() error {
	if err := c.pad(); err != nil {
		return err
	}
	b := append(c.buf[:0], cpioNewcMagic...)
	for _, v := range []uint64{0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, uint64(len(cpioTrailer) + 1), 0} {
		b = appendHex8(b, v)
	}
	b = append(b, cpioTrailer...)
	b = append(b, 0)
	c.buf = b
	if err := c.write(b); err != nil {
		return err
	}
	return c.pad()
}
