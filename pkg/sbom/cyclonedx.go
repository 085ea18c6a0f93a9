package sbom

import (
	"bytes"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// Property names rpmforge adds to CycloneDX components and metadata.
const (
	PropNEVRA        = "rpmforge:nevra"
	PropVCS          = "rpmforge:vcs"
	PropCommit       = "rpmforge:git-commit"
	PropBuildTime    = "rpmforge:build-time"
	PropMetadataPath = "rpmforge:metadata-path"
	PropFiles        = "rpmforge:files"
	PropFilesFrom    = "rpmforge:files-from"
	PropFilesMissing = "rpmforge:files-missing"
	PropFilesHash    = "rpmforge:files-sha256"
)

// CycloneDX returns the document as CycloneDX 1.6 JSON.
func (d *Document) CycloneDX() ([]byte, error) {
	bom := d.cycloneDXBOM()
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, fmt.Errorf("sbom: encoding CycloneDX: %w", err)
	}
	return buf.Bytes(), nil
}

func (d *Document) cycloneDXBOM() *cdx.BOM {
	p := d.Package
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + d.id()
	appRef := p.PURL()
	app := cdx.Component{
		BOMRef: appRef, Type: cdx.ComponentTypeApplication, Name: p.Name, Version: p.Version + "-" + p.Release,
		Description: p.Summary, PackageURL: appRef, Licenses: CycloneDXLicenses(ParseLicense(p.License)),
	}
	if p.Vendor != "" {
		app.Supplier = &cdx.OrganizationalEntity{Name: p.Vendor}
		app.Publisher = p.Vendor
	}
	var refs []cdx.ExternalReference
	if u := webURL(p.URL); u != "" {
		refs = append(refs, cdx.ExternalReference{Type: cdx.ERTypeWebsite, URL: u})
	}
	if u := vcsURL(p.VCS); u != "" {
		refs = append(refs, cdx.ExternalReference{Type: cdx.ERTypeVCS, URL: u})
	}
	if len(refs) > 0 {
		app.ExternalReferences = &refs
	}
	props := []cdx.Property{{Name: PropNEVRA, Value: p.NEVRA()}}
	if p.VCS != "" {
		props = append(props, cdx.Property{Name: PropVCS, Value: p.VCS})
	}
	if c := p.Commit(); c != "" {
		props = append(props, cdx.Property{Name: PropCommit, Value: c})
	}
	props = append(props, cdx.Property{Name: PropBuildTime, Value: d.timestamp()})
	app.Properties = &props

	tool := cdx.Component{Type: cdx.ComponentTypeApplication, Name: d.Tool.Name, Version: d.Tool.Version}
	if tool.Name == "" {
		tool.Name = "rpmforge"
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp:  d.timestamp(),
		Lifecycles: &[]cdx.Lifecycle{{Phase: cdx.LifecyclePhaseBuild}},
		Tools:      &cdx.ToolsChoice{Components: &[]cdx.Component{tool}},
		Component:  &app,
	}
	if p.Vendor != "" {
		bom.Metadata.Supplier = &cdx.OrganizationalEntity{Name: p.Vendor}
	}

	refOf := map[string]string{} // PEP 503 name -> bom-ref of its first component
	comps := make([]cdx.Component, 0, len(d.Components))
	seen := map[string]bool{appRef: true}
	var allRefs []string
	for _, c := range sortedComponents(d.Components) {
		ref := c.PURL
		if seen[ref] { // the same name and version twice (dist-info and egg-info)
			ref += "#" + c.MetadataPath
		}
		seen[ref] = true
		if _, ok := refOf[c.Key()]; !ok {
			refOf[c.Key()] = ref
		}
		allRefs = append(allRefs, ref)
		cc := cdx.Component{
			BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: c.Name, Version: c.Version, PackageURL: c.PURL,
			Licenses: CycloneDXLicenses(c.License),
		}
		if c.Supplier != "" {
			cc.Supplier = &cdx.OrganizationalEntity{Name: c.Supplier}
		}
		if c.SHA256 != "" {
			cc.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: c.SHA256}}
		}
		if u := webURL(c.HomePage); u != "" {
			cc.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeWebsite, URL: u}}
		}
		cp := []cdx.Property{
			{Name: PropMetadataPath, Value: c.MetadataPath},
			{Name: PropFiles, Value: strconv.Itoa(c.Files)},
			{Name: PropFilesFrom, Value: c.FilesFrom},
		}
		if c.Missing > 0 {
			cp = append(cp, cdx.Property{Name: PropFilesMissing, Value: strconv.Itoa(c.Missing)})
		}
		cc.Properties = &cp
		comps = append(comps, cc)
	}
	bom.Components = &comps

	sortedRefs := append([]string(nil), allRefs...)
	sort.Strings(sortedRefs)
	deps := []cdx.Dependency{{Ref: appRef, Dependencies: &sortedRefs}}
	i := 0
	for _, c := range sortedComponents(d.Components) {
		var on []string
		for _, n := range c.DependsOn {
			if r, ok := refOf[n]; ok {
				on = append(on, r)
			}
		}
		sort.Strings(on)
		dep := cdx.Dependency{Ref: allRefs[i]}
		if len(on) > 0 {
			dep.Dependencies = &on
		}
		deps = append(deps, dep)
		i++
	}
	bom.Dependencies = &deps
	return bom
}

// sortedComponents orders components by PEP 503 name, version and metadata path.
func sortedComponents(in []Component) []Component {
	out := append([]Component(nil), in...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Key() != b.Key() {
			return a.Key() < b.Key()
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.MetadataPath < b.MetadataPath
	})
	return out
}

// CycloneDXLicenses writes an SPDX identifier as license.id, an expression
// as expression, a name as license.name and an unknown licence as the name
// "unknown".
func CycloneDXLicenses(l License) *cdx.Licenses {
	switch {
	case l.Expression != "" && isSingleID(l.Expression):
		return &cdx.Licenses{{License: &cdx.License{ID: l.Expression}}}
	case l.Expression != "":
		return &cdx.Licenses{{Expression: l.Expression}}
	case l.Name != "":
		return &cdx.Licenses{{License: &cdx.License{Name: l.Name}}}
	}
	return &cdx.Licenses{{License: &cdx.License{Name: "unknown"}}}
}

func isSingleID(e string) bool {
	return !strings.ContainsAny(e, " ()") && !strings.HasPrefix(e, "LicenseRef-") && !strings.HasPrefix(e, "DocumentRef-")
}

// webURL returns u when it is an absolute http(s) URL.
func webURL(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return p.String()
}

// vcsURL turns an RPM VCS tag ("git+https://host/repo#commit") into a URL.
func vcsURL(vcs string) string {
	u, _, _ := strings.Cut(vcs, "#")
	u = strings.TrimPrefix(u, "git+")
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return ""
	}
	return p.String()
}
