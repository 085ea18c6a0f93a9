package repo

import (
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// CheckResult is what Check found.
type CheckResult struct {
	Repomd   *Repomd
	Packages int // in primary.xml
}

// Check verifies a published repository as a careful client would: every
// file repomd.xml names exists with its size and checksum, its
// uncompressed content matches open-size and open-checksum (which dnf and
// zypper do not check), and primary, filelists and other describe the same
// packages, as many as their packages="" attribute says.
func Check(ctx context.Context, s Storage) (*CheckResult, error) {
	b, err := readAll(ctx, s, repomdName)
	if err != nil {
		return nil, err
	}
	md, err := ParseRepomd(b)
	if err != nil {
		return nil, err
	}
	var ids [numKinds][]string
	for k := range numKinds {
		rec := md.Record(kindNames[k])
		if rec == nil {
			return nil, fmt.Errorf("repomd.xml has no %s record", kindNames[k])
		}
		data, err := readAll(ctx, s, rec.Location)
		if err != nil {
			return nil, err
		}
		if int64(len(data)) != rec.Size {
			return nil, fmt.Errorf("%s: %d bytes, repomd.xml says %d", rec.Location, len(data), rec.Size)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != rec.Checksum {
			return nil, fmt.Errorf("%s: checksum mismatch", rec.Location)
		}
		open, err := decompress(rec.Location, data)
		if err != nil {
			return nil, err
		}
		if rec.OpenSize >= 0 && int64(len(open)) != rec.OpenSize {
			return nil, fmt.Errorf("%s: %d bytes uncompressed, repomd.xml says open-size %d", rec.Location, len(open), rec.OpenSize)
		}
		if sum := sha256.Sum256(open); rec.OpenChecksum != "" && hex.EncodeToString(sum[:]) != rec.OpenChecksum {
			return nil, fmt.Errorf("%s: open-checksum mismatch", rec.Location)
		}
		if ids[k], err = packageIDs(Kind(k), open); err != nil {
			return nil, fmt.Errorf("%s: %w", rec.Location, err)
		}
	}
	for k := Filelists; k < numKinds; k++ {
		if strings.Join(ids[k], ",") != strings.Join(ids[Primary], ",") {
			return nil, fmt.Errorf("%s and primary list different packages", kindNames[k])
		}
	}
	return &CheckResult{Repomd: md, Packages: len(ids[Primary])}, nil
}

func readAll(ctx context.Context, s Storage, name string) ([]byte, error) {
	rc, err := s.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// decompress decompresses a metadata file by its name's suffix, reading
// all members, frames or streams.
func decompress(name string, data []byte) ([]byte, error) {
	var r io.Reader
	var err error
	switch {
	case strings.HasSuffix(name, ".gz"):
		r, err = gzip.NewReader(bytes.NewReader(data))
	case strings.HasSuffix(name, ".zst"):
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1))
		if err == nil {
			defer d.Close()
			r = d
		}
	case strings.HasSuffix(name, ".xz"):
		r, err = xz.NewReader(bytes.NewReader(data))
	case strings.HasSuffix(name, ".bz2"):
		r = bzip2.NewReader(bytes.NewReader(data))
	default:
		return data, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// packageIDs parses a metadata file and returns its packages' pkgids in
// order, checking the count against the root's packages attribute.
func packageIDs(k Kind, data []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var ids []string
	declared := -1
	depth := 0
	inChecksum := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				for _, a := range t.Attr {
					if a.Name.Local == "packages" {
						fmt.Sscan(a.Value, &declared)
					}
				}
			}
			if depth == 2 && t.Name.Local == "package" && k != Primary {
				for _, a := range t.Attr {
					if a.Name.Local == "pkgid" {
						ids = append(ids, a.Value)
					}
				}
			}
			inChecksum = k == Primary && depth == 3 && t.Name.Local == "checksum"
		case xml.CharData:
			if inChecksum {
				ids = append(ids, string(t))
				inChecksum = false
			}
		case xml.EndElement:
			depth--
			inChecksum = false
		}
	}
	if declared != len(ids) {
		return nil, fmt.Errorf("packages=%d but %d packages listed", declared, len(ids))
	}
	return ids, nil
}
