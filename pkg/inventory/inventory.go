// Package inventory answers "what runs where": it reads what hosts have
// installed (collector dumps of `rpm -qa --qf` and raw rpm databases, see
// the rpmdb sub-package), compares it with what was published (a Catalog),
// and reports per host and package the provenance, the drift against the
// host's channel and the Python components inside.
//
// The channel side is a consumer-defined interface, Catalog; the rpmdir
// sub-package implements it over plain directories of RPMs.
package inventory

import (
	"fmt"
	"strings"
	"time"

	"github.com/rpmforge/rpmforge/pkg/rpmver"
)

// Installed is one package installed on a host.
type Installed struct {
	Name    string
	Epoch   int // EPOCHNUM: 0 when the package has none
	Version string
	Release string
	Arch    string // "" for gpg-pubkey pseudo-packages
	Vendor  string
	License string
	// InstallTime and BuildTime are zero when unknown.
	InstallTime time.Time
	BuildTime   time.Time
	// SIGMD5 and SHA256Header are the header digests, lowercase hex; empty
	// when unknown (EL7 dumps have no SHA256HEADER).
	SIGMD5       string
	SHA256Header string
	// SigningKey is the 16-hex-digit key ID of the header signature; empty
	// when unsigned.
	SigningKey string
	Signature  string // as rpm's :pgpsig prints it, e.g. "RSA/SHA256, <date>, Key ID <id>"
	SourceRPM  string
	VCS        string
}

// EVR is [epoch:]version-release.
func (p Installed) EVR() string { return FormatEVR(p.Epoch, p.Version, p.Release) }

// NEVRA is name-[epoch:]version-release.arch.
func (p Installed) NEVRA() string { return p.Name + "-" + p.EVR() + "." + p.Arch }

// FormatEVR prints [epoch:]version-release, leaving out epoch 0.
func FormatEVR(epoch int, version, release string) string {
	if epoch != 0 {
		return fmt.Sprintf("%d:%s-%s", epoch, version, release)
	}
	return version + "-" + release
}

// CompareEVR orders two EVRs as rpm does (rpmvercmp on each part).
func CompareEVR(e1 int, v1, r1 string, e2 int, v2, r2 string) int {
	return rpmver.CompareEVR(int64(e1), v1, r1, int64(e2), v2, r2)
}

// Component is a Python distribution inside a package, from its SBOM.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	PURL    string `json:"purl"`
	License string `json:"license,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

// PublishedPackage is one RPM a channel offers.
type PublishedPackage struct {
	// Channel is the channel publishing the package ("" for a plain directory).
	Channel string
	Name    string
	Epoch   int
	Version string
	Release string
	Arch    string
	Summary string
	// SHA256 is the digest of the RPM file.
	SHA256       string
	SIGMD5       string
	SHA256Header string
	SigningKey   string
	BuildTime    time.Time
	VCS          string
	License      string
	Vendor       string
	Components   []Component
	// Path locates the RPM (a file path for rpmdir).
	Path string
	// PublishedAt and PromotedFrom come from channel snapshots; zero/empty
	// when the catalog does not know them.
	PublishedAt  time.Time
	PromotedFrom string
}

// EVR is [epoch:]version-release.
func (p PublishedPackage) EVR() string { return FormatEVR(p.Epoch, p.Version, p.Release) }

// NEVRA is name-[epoch:]version-release.arch.
func (p PublishedPackage) NEVRA() string { return p.Name + "-" + p.EVR() + "." + p.Arch }

// Commit is the commit named by the VCS tag ("git+URL#commit" or "git:commit").
func (p PublishedPackage) Commit() string { return commitOf(p.VCS) }

func commitOf(vcs string) string {
	if i := strings.LastIndexByte(vcs, '#'); i >= 0 {
		return vcs[i+1:]
	}
	if c, ok := strings.CutPrefix(vcs, "git:"); ok {
		return c
	}
	return ""
}

// Catalog is what was published: named channels, each a list of packages.
// Implementations: rpmdir (directories of RPMs); channel snapshots later.
type Catalog interface {
	Channels() []string
	Packages(channel string) ([]PublishedPackage, error)
}
