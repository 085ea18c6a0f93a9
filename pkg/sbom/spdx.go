package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

const noAssertion = "NOASSERTION"

// SPDX returns the document as SPDX 2.3 JSON. Licences that are not valid
// SPDX expressions become LicenseRef-<hash> entries in
// hasExtractedLicensingInfos holding the name; unknown licences are
// NOASSERTION.
func (d *Document) SPDX() ([]byte, error) {
	p := d.Package
	id := d.id()
	tool := d.Tool.Name
	if tool == "" {
		tool = "rpmforge"
	}
	if d.Tool.Version != "" {
		tool += "-" + d.Tool.Version
	}
	creators := []common.Creator{{CreatorType: "Tool", Creator: tool}}
	if p.Vendor != "" {
		creators = append(creators, common.Creator{CreatorType: "Organization", Creator: oneLine(p.Vendor)})
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      p.NEVRA(),
		DocumentNamespace: "https://spdx.org/spdxdocs/" + p.Name + "-" + strings.ReplaceAll(p.EVR(), ":", "_") + "." + p.Arch + "-" + id,
		CreationInfo:      &spdx.CreationInfo{Creators: creators, Created: d.timestamp()},
	}
	lic := &spdxLicenses{seen: map[string]bool{}}

	appID := common.ElementID("Package-rpm-" + spdxIDPart(p.Name))
	app := &spdx.Package{
		PackageName: p.Name, PackageSPDXIdentifier: appID, PackageVersion: p.Version + "-" + p.Release,
		PackageFileName:         fmt.Sprintf("%s-%s-%s.%s.rpm", p.Name, p.Version, p.Release, p.Arch),
		PackageDownloadLocation: noAssertion, FilesAnalyzed: false, IsFilesAnalyzedTagPresent: true,
		PackageLicenseConcluded: noAssertion, PackageLicenseDeclared: lic.ref(ParseLicense(p.License)),
		PackageCopyrightText: noAssertion, PackageSummary: p.Summary, PackageHomePage: webURL(p.URL),
		PackageExternalReferences: []*spdx.PackageExternalReference{{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: p.PURL()}},
		PrimaryPackagePurpose:     "APPLICATION",
		BuiltDate:                 d.timestamp(),
	}
	if p.Vendor != "" {
		app.PackageSupplier = &common.Supplier{SupplierType: "Organization", Supplier: oneLine(p.Vendor)}
	}
	if p.VCS != "" {
		app.PackageSourceInfo = "built from " + p.VCS
	}
	doc.Packages = append(doc.Packages, app)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA: common.MakeDocElementID("", "DOCUMENT"), RefB: common.MakeDocElementID("", string(appID)), Relationship: "DESCRIBES",
	})

	comps := sortedComponents(d.Components)
	ids := make([]common.ElementID, len(comps))
	idOf := map[string]common.ElementID{}
	used := map[common.ElementID]bool{appID: true}
	for i, c := range comps {
		eid := common.ElementID("Package-pypi-" + spdxIDPart(c.Key()) + "-" + spdxIDPart(c.Version))
		for n := 2; used[eid]; n++ {
			eid = common.ElementID(fmt.Sprintf("Package-pypi-%s-%s-%d", spdxIDPart(c.Key()), spdxIDPart(c.Version), n))
		}
		used[eid] = true
		ids[i] = eid
		if _, ok := idOf[c.Key()]; !ok {
			idOf[c.Key()] = eid
		}
		sp := &spdx.Package{
			PackageName: c.Name, PackageSPDXIdentifier: eid, PackageVersion: c.Version,
			PackageDownloadLocation: noAssertion, FilesAnalyzed: false, IsFilesAnalyzedTagPresent: true,
			PackageLicenseConcluded: noAssertion, PackageLicenseDeclared: lic.ref(c.License),
			PackageCopyrightText: noAssertion, PackageHomePage: webURL(c.HomePage),
			PackageExternalReferences: []*spdx.PackageExternalReference{{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: c.PURL}},
			PrimaryPackagePurpose:     "LIBRARY",
			PackageComment:            fmt.Sprintf("%s; %d files (from %s), sha256 of their manifest", c.MetadataPath, c.Files, c.FilesFrom),
		}
		if c.Supplier != "" {
			sp.PackageSupplier = &common.Supplier{SupplierType: "Organization", Supplier: oneLine(c.Supplier)}
		} else {
			sp.PackageSupplier = &common.Supplier{Supplier: noAssertion}
		}
		if c.SHA256 != "" {
			sp.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: c.SHA256}}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(appID)), RefB: common.MakeDocElementID("", string(eid)), Relationship: "CONTAINS",
		})
	}
	for i, c := range comps {
		for _, n := range c.DependsOn {
			if to, ok := idOf[n]; ok {
				doc.Relationships = append(doc.Relationships, &spdx.Relationship{
					RefA: common.MakeDocElementID("", string(ids[i])), RefB: common.MakeDocElementID("", string(to)), Relationship: "DEPENDS_ON",
				})
			}
		}
	}
	doc.OtherLicenses = lic.others

	var buf bytes.Buffer
	if err := json.Write(doc, &buf, json.Indent("  "), json.EscapeHTML(false)); err != nil {
		return nil, fmt.Errorf("sbom: encoding SPDX: %w", err)
	}
	return buf.Bytes(), nil
}

// spdxLicenses collects the LicenseRef- entries of a document.
type spdxLicenses struct {
	seen   map[string]bool
	others []*spdx.OtherLicense
}

func (s *spdxLicenses) ref(l License) string {
	switch {
	case l.Expression != "":
		return l.Expression
	case l.Name == "":
		return noAssertion
	}
	sum := sha256.Sum256([]byte(l.Name))
	id := "LicenseRef-" + hex.EncodeToString(sum[:8])
	if !s.seen[id] {
		s.seen[id] = true
		s.others = append(s.others, &spdx.OtherLicense{LicenseIdentifier: id, ExtractedText: l.Name, LicenseName: oneLine(l.Name)})
	}
	return id
}

// spdxIDPart keeps the characters an SPDX identifier allows ([A-Za-z0-9.-]).
func spdxIDPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
