// Package sbom describes what an rpmforge package contains: the application
// and every Python distribution in its virtualenv, as a CycloneDX 1.6 and an
// SPDX 2.3 JSON document.
//
// The documents are deterministic: the same inputs give the same bytes. The
// timestamp is the package's build time (SOURCE_DATE_EPOCH in reproducible
// builds), components are sorted, and the CycloneDX serial number and the
// SPDX namespace are derived from a hash of the content instead of being
// random.
//
// The files are installed as regular files (not %doc, which hosts that
// install with tsflags=nodocs silently drop) under Dir, and read back from a
// package with Extract.
package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/rpmforge/rpmforge/pkg/pydist"
)

// Dir is where packages install their SBOMs.
const Dir = "/usr/share/rpmforge/sbom"

// Format names a document format.
type Format string

// Formats.
const (
	CycloneDX Format = "cyclonedx"
	SPDX      Format = "spdx"
)

// Ext returns the file extension of the format: ".cdx.json" or ".spdx.json".
func (f Format) Ext() string {
	if f == SPDX {
		return ".spdx.json"
	}
	return ".cdx.json"
}

// ParseFormat accepts "cyclonedx" (or "cdx") and "spdx".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "cyclonedx", "cdx":
		return CycloneDX, nil
	case "spdx":
		return SPDX, nil
	}
	return "", fmt.Errorf("sbom: unknown format %q (want cyclonedx or spdx)", s)
}

// InstallPath is the path of a package's document in the format on the host.
func InstallPath(name string, f Format) string { return path.Join(Dir, name+f.Ext()) }

// Package is the RPM an SBOM describes.
type Package struct {
	Name    string
	Epoch   *uint32
	Version string
	Release string
	Arch    string
	Vendor  string
	License string // the RPM License tag
	Summary string
	URL     string
	// VCS is the RPM VCS tag, e.g. "git+https://host/repo#<commit>" or "git:<commit>".
	VCS       string
	BuildTime time.Time
}

// EVR is [epoch:]version-release.
func (p Package) EVR() string {
	if p.Epoch != nil {
		return fmt.Sprintf("%d:%s-%s", *p.Epoch, p.Version, p.Release)
	}
	return p.Version + "-" + p.Release
}

// NEVRA is name-[epoch:]version-release.arch.
func (p Package) NEVRA() string { return p.Name + "-" + p.EVR() + "." + p.Arch }

// Commit is the commit named by VCS, if any.
func (p Package) Commit() string { return CommitOf(p.VCS) }

// CommitOf returns the commit in an RPM VCS tag ("git+URL#commit", "git:commit").
func CommitOf(vcs string) string {
	if i := strings.LastIndexByte(vcs, '#'); i >= 0 {
		return vcs[i+1:]
	}
	if c, ok := strings.CutPrefix(vcs, "git:"); ok {
		return c
	}
	return ""
}

// PURL is the package URL of the RPM:
// pkg:rpm/<vendor>/<name>@<version>-<release>?arch=<arch>[&epoch=<n>].
// The vendor namespace is VendorNamespace(Vendor) ("ACME Inc." ->
// "acme-inc"); it is left out when the package has no vendor.
func (p Package) PURL() string {
	q := packageurl.Qualifiers{{Key: "arch", Value: p.Arch}}
	if p.Epoch != nil {
		q = append(q, packageurl.Qualifier{Key: "epoch", Value: strconv.FormatUint(uint64(*p.Epoch), 10)})
	}
	return packageurl.NewPackageURL("rpm", VendorNamespace(p.Vendor), p.Name, p.Version+"-"+p.Release, q, "").ToString()
}

// VendorNamespace is the purl namespace of an RPM Vendor: lowercase, runs
// of characters other than [a-z0-9] turned into one "-".
func VendorNamespace(v string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(v) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

// PyPIPURL is pkg:pypi/<PEP 503 normalised name>@<version>.
func PyPIPURL(name, version string) string {
	return packageurl.NewPackageURL("pypi", "", pydist.Normalize(name), version, nil, "").ToString()
}

// Tool is the program that wrote the documents.
type Tool struct {
	Name    string
	Version string
}

// Component is one Python distribution installed in the package's venv.
type Component struct {
	Name     string // as its metadata spells it
	Version  string
	PURL     string
	Supplier string // Author (or Author-email) from the metadata
	HomePage string
	License  License
	// SHA256 is the SHA-256 of the manifest of the distribution's files, as
	// sha256sum prints it: "<hex sha256>  <path>\n" per file, sorted by path,
	// paths relative to the venv. Files are read as packaged (after
	// relocation); byte-code (*.pyc) is left out.
	SHA256 string
	// Files is how many files the manifest has; Missing how many the
	// metadata lists that are not there (stale RECORD entries).
	Files, Missing int
	// FilesFrom says how the files were found: "RECORD" (dist-info),
	// "installed-files.txt" (pip-installed egg-info), "top_level.txt" or
	// "name" (the distribution's top-level package or module on disk).
	FilesFrom string
	// DependsOn holds the PEP 503 names of the components in the same venv
	// that Requires-Dist names (requirements only needed for an extra are
	// left out).
	DependsOn []string
	// Requires is Requires-Dist as written.
	Requires     []string
	MetadataPath string // relative to site-packages
	Kind         string // pydist.KindDistInfo or pydist.KindEggInfo
}

// Key is the PEP 503 name of the component.
func (c Component) Key() string { return pydist.Normalize(c.Name) }

// Document is everything an SBOM says.
type Document struct {
	Package    Package
	Tool       Tool
	Components []Component
}

// id is the content hash the CycloneDX serial number and the SPDX namespace
// are derived from, as a UUID (version 5 layout, SHA-256 based).
func (d *Document) id() string {
	data, err := json.Marshal(d)
	if err != nil { // plain strings and numbers only: cannot happen
		panic(err)
	}
	sum := sha256.Sum256(data)
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (d *Document) timestamp() string {
	t := d.Package.BuildTime
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format(time.RFC3339)
}

// Encode returns the document in the format.
func (d *Document) Encode(f Format) ([]byte, error) {
	if f == SPDX {
		return d.SPDX()
	}
	return d.CycloneDX()
}
