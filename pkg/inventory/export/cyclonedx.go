package export

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	packageurl "github.com/package-url/packageurl-go"

	"github.com/rpmforge/rpmforge/pkg/inventory"
	"github.com/rpmforge/rpmforge/pkg/sbom"
)

// Property names of the hosts' CycloneDX document.
const (
	PropHost        = "rpmforge:host"
	PropAddress     = "rpmforge:address"
	PropChannel     = "rpmforge:channel"
	PropSource      = "rpmforge:source"
	PropProvenance  = "rpmforge:provenance"
	PropPublishedIn = "rpmforge:published-in"
	PropDrift       = "rpmforge:drift"
	PropBehind      = "rpmforge:behind"
	PropAvailable   = "rpmforge:available"
	PropSigningKey  = "rpmforge:signing-key"
	PropSIGMD5      = "rpmforge:sigmd5"
	PropSHA256Hdr   = "rpmforge:sha256header"
	PropCommit      = "rpmforge:git-commit"
	PropEndOfLife   = "rpmforge:end-of-life"
)

// CycloneDX writes the hosts as a CycloneDX 1.6 BOM: one "device"
// component per host holding its installed packages ("application", purl
// pkg:rpm), each holding its Python components ("library", purl pkg:pypi).
// Provenance and drift are properties. Channel packages a host lacks are
// not listed (they are not installed).
func CycloneDX(w io.Writer, rep *inventory.Report, meta Meta) error {
	bom := cdx.NewBOM()
	bom.Metadata = &cdx.Metadata{
		Timestamp:  timeText(meta.Generated),
		Lifecycles: &[]cdx.Lifecycle{{Phase: cdx.LifecyclePhaseOperations}},
		Tools:      &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: "rpmforge", Version: meta.Version}}},
	}
	var hosts []cdx.Component
	var deps []cdx.Dependency
	for i := range rep.Hosts {
		h := &rep.Hosts[i]
		hostRef := "host:" + h.Info.Name
		hc := cdx.Component{BOMRef: hostRef, Type: cdx.ComponentTypeDevice, Name: h.Info.Name, Description: h.Info.Function}
		props := []cdx.Property{{Name: PropHost, Value: h.Info.Name}}
		for _, kv := range [][2]string{{PropAddress, h.Info.Address}, {PropChannel, h.Channel}, {PropSource, h.Data.Source}, {"rpmforge:os", h.OS()}} {
			if kv[1] != "" {
				props = append(props, cdx.Property{Name: kv[0], Value: kv[1]})
			}
		}
		hc.Properties = &props
		var pkgs []cdx.Component
		var pkgRefs []string
		for _, r := range installedRows(h) {
			p := r.Installed
			purl := rpmPURL(p)
			ref := hostRef + "/" + purl
			pc := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeApplication, Name: p.Name, Version: p.Version + "-" + p.Release, PackageURL: purl}
			if p.Vendor != "" {
				pc.Supplier = &cdx.OrganizationalEntity{Name: p.Vendor}
			}
			if p.License != "" {
				pc.Licenses = sbom.CycloneDXLicenses(sbom.ParseLicense(p.License))
			}
			pp := []cdx.Property{{Name: PropProvenance, Value: string(r.Provenance)}, {Name: PropDrift, Value: string(r.Drift)}}
			if len(r.PublishedIn) > 0 {
				pp = append(pp, cdx.Property{Name: PropPublishedIn, Value: strings.Join(r.PublishedIn, " ")})
			}
			if r.Drift == inventory.Behind {
				pp = append(pp, cdx.Property{Name: PropBehind, Value: strconv.Itoa(r.Behind)})
			}
			for _, kv := range [][2]string{{PropAvailable, r.Available}, {PropSigningKey, p.SigningKey}, {PropSIGMD5, p.SIGMD5},
				{PropSHA256Hdr, p.SHA256Header}, {PropCommit, commitOf(p.VCS)}, {PropEndOfLife, meta.EOL.Lookup(p.Name, p.Version)}} {
				if kv[1] != "" {
					pp = append(pp, cdx.Property{Name: kv[0], Value: kv[1]})
				}
			}
			pc.Properties = &pp
			var libs []cdx.Component
			var libRefs []string
			seen := map[string]bool{}
			for _, c := range r.Components {
				lref := ref + "/" + c.PURL
				if seen[lref] {
					continue
				}
				seen[lref] = true
				lc := cdx.Component{BOMRef: lref, Type: cdx.ComponentTypeLibrary, Name: c.Name, Version: c.Version, PackageURL: c.PURL}
				if c.License != "" {
					lc.Licenses = sbom.CycloneDXLicenses(sbom.ParseLicense(c.License))
				}
				if c.SHA256 != "" {
					lc.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: c.SHA256}}
				}
				if eol := meta.EOL.Lookup(c.Name, c.Version); eol != "" {
					lc.Properties = &[]cdx.Property{{Name: PropEndOfLife, Value: eol}}
				}
				libs = append(libs, lc)
				libRefs = append(libRefs, lref)
			}
			if len(libs) > 0 {
				pc.Components = &libs
				deps = append(deps, cdx.Dependency{Ref: ref, Dependencies: &libRefs})
			}
			pkgs = append(pkgs, pc)
			pkgRefs = append(pkgRefs, ref)
		}
		if len(pkgs) > 0 {
			hc.Components = &pkgs
			deps = append(deps, cdx.Dependency{Ref: hostRef, Dependencies: &pkgRefs})
		}
		hosts = append(hosts, hc)
	}
	bom.Components = &hosts
	if len(deps) > 0 {
		bom.Dependencies = &deps
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%v", hostsKey(rep))))
	u := sum[:16]
	u[6], u[8] = u[6]&0x0f|0x50, u[8]&0x3f|0x80
	x := hex.EncodeToString(u)
	bom.SerialNumber = "urn:uuid:" + x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("export: encoding CycloneDX: %w", err)
	}
	return nil
}

// hostsKey is what the serial number is derived from: hosts and their NEVRAs.
func hostsKey(rep *inventory.Report) []string {
	var out []string
	for _, h := range rep.Hosts {
		for _, r := range h.Rows {
			if r.Installed != nil {
				out = append(out, h.Info.Name+" "+r.Installed.NEVRA()+" "+r.Installed.SIGMD5)
			}
		}
	}
	return out
}

func rpmPURL(p *inventory.Installed) string {
	q := packageurl.Qualifiers{}
	if p.Arch != "" {
		q = append(q, packageurl.Qualifier{Key: "arch", Value: p.Arch})
	}
	if p.Epoch != 0 {
		q = append(q, packageurl.Qualifier{Key: "epoch", Value: strconv.Itoa(p.Epoch)})
	}
	return packageurl.NewPackageURL("rpm", sbom.VendorNamespace(p.Vendor), p.Name, p.Version+"-"+p.Release, q, "").ToString()
}
