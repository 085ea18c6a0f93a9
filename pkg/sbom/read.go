package sbom

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	rpmutils "github.com/sassoftware/go-rpmutils"
)

// ErrNotFound is returned (wrapped) by Extract when a package carries no SBOM.
var ErrNotFound = errors.New("sbom: no SBOM in the package")

// maxDocument bounds what Extract reads of one document.
const maxDocument = 64 << 20

// Embedded holds the documents found in a package and their paths.
type Embedded struct {
	CycloneDX, SPDX         []byte
	CycloneDXPath, SPDXPath string
}

// Get returns the document in the format (nil if absent).
func (e *Embedded) Get(f Format) []byte {
	if f == SPDX {
		return e.SPDX
	}
	return e.CycloneDX
}

// Extract reads the payload of an RPM whose header has been read (the
// stream positioned at the payload) and returns its SBOMs: the files
// under Dir, or else (packages made before rpmforge installed them there)
// a *.cdx.json / *.spdx.json under /usr/share/doc. ErrNotFound when there
// is neither.
func Extract(r *rpmutils.Rpm) (*Embedded, error) {
	pr, err := r.PayloadReaderExtended()
	if err != nil {
		return nil, fmt.Errorf("sbom: reading the payload: %w", err)
	}
	var e, doc Embedded
	for {
		fi, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("sbom: reading the payload: %w", err)
		}
		name := "/" + strings.TrimPrefix(path.Clean("/"+fi.Name()), "/")
		dest := &e
		switch {
		case path.Dir(name) == Dir:
		case strings.HasPrefix(name, "/usr/share/doc/"):
			dest = &doc
		default:
			continue
		}
		var slot *[]byte
		var where *string
		switch {
		case strings.HasSuffix(name, CycloneDX.Ext()):
			slot, where = &dest.CycloneDX, &dest.CycloneDXPath
		case strings.HasSuffix(name, SPDX.Ext()):
			slot, where = &dest.SPDX, &dest.SPDXPath
		default:
			continue
		}
		if *slot != nil || pr.IsLink() || fi.Size() > maxDocument {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(pr, maxDocument))
		if err != nil {
			return nil, fmt.Errorf("sbom: reading %s from the payload: %w", name, err)
		}
		*slot, *where = data, name
	}
	if e.CycloneDX == nil && e.SPDX == nil {
		e = doc
	}
	if e.CycloneDX == nil && e.SPDX == nil {
		return nil, ErrNotFound
	}
	return &e, nil
}

// ParseCycloneDX reads the components a CycloneDX JSON document lists (any
// spec version), in document order. Only name, version, purl, supplier,
// licence and SHA-256 are filled in.
func ParseCycloneDX(data []byte) ([]Component, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, fmt.Errorf("sbom: parsing CycloneDX: %w", err)
	}
	if bom.BOMFormat != cdx.BOMFormat {
		return nil, fmt.Errorf("sbom: parsing CycloneDX: bomFormat is %q, not %q", bom.BOMFormat, cdx.BOMFormat)
	}
	var out []Component
	var walk func([]cdx.Component)
	walk = func(cs []cdx.Component) {
		for _, c := range cs {
			comp := Component{Name: c.Name, Version: c.Version, PURL: c.PackageURL, License: licenseOf(c.Licenses)}
			if c.Supplier != nil {
				comp.Supplier = c.Supplier.Name
			}
			if c.Hashes != nil {
				for _, h := range *c.Hashes {
					if h.Algorithm == cdx.HashAlgoSHA256 {
						comp.SHA256 = h.Value
					}
				}
			}
			if comp.PURL == "" && comp.Name != "" {
				comp.PURL = PyPIPURL(comp.Name, comp.Version)
			}
			if c.Type == cdx.ComponentTypeLibrary || c.Type == cdx.ComponentTypeFramework {
				out = append(out, comp)
			}
			if c.Components != nil {
				walk(*c.Components)
			}
		}
	}
	if bom.Components != nil {
		walk(*bom.Components)
	}
	return out, nil
}

func licenseOf(ls *cdx.Licenses) License {
	if ls == nil {
		return License{}
	}
	var names []string
	for _, l := range *ls {
		switch {
		case l.Expression != "":
			return License{Expression: l.Expression}
		case l.License != nil && l.License.ID != "":
			return License{Expression: l.License.ID}
		case l.License != nil && l.License.Name != "" && l.License.Name != "unknown":
			names = append(names, l.License.Name)
		}
	}
	if len(names) > 0 {
		return License{Name: strings.Join(names, "; ")}
	}
	return License{}
}

// IsPyPI reports whether a component is a Python distribution.
func (c Component) IsPyPI() bool { return strings.HasPrefix(c.PURL, "pkg:pypi/") }
