package export

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/rpmforge/rpmforge/pkg/inventory"
)

// FedRAMPColumns are the 25 column headers of the Inventory sheet of the
// FedRAMP Integrated Inventory Workbook (SSP Appendix M, template v3.1),
// columns B to Z. The workbook breaks two headers over two lines
// ("IPv4 or IPv6⏎Address", "VLAN/⏎Network ID") and ends "End-of-Life"
// with a space; here line breaks are spaces and the trailing space is
// dropped. See docs/inventory.md for the sources.
var FedRAMPColumns = []string{
	"UNIQUE ASSET IDENTIFIER",
	"IPv4 or IPv6 Address",
	"Virtual",
	"Public",
	"DNS Name or URL",
	"NetBIOS Name",
	"MAC Address",
	"Authenticated Scan",
	"Baseline Configuration Name",
	"OS Name and Version",
	"Location",
	"Asset Type",
	"Hardware Make/Model",
	"In Latest Scan",
	"Software/ Database Vendor",
	"Software/ Database Name & Version",
	"Patch Level",
	"Diagram Label",
	"Comments",
	"Serial #/Asset Tag#",
	"VLAN/ Network ID",
	"System Administrator/ Owner",
	"Application Administrator/ Owner",
	"Function",
	"End-of-Life",
}

// fedRAMPMandatory are the columns the workbook marks mandatory for an
// asset row, with the hosts.toml key (or source) that fills each.
var fedRAMPMandatory = []struct {
	column, hint string
}{
	{"UNIQUE ASSET IDENTIFIER", "asset_id"},
	{"IPv4 or IPv6 Address", "address"},
	{"Virtual", "virtual"},
	{"Public", "public"},
	{"Baseline Configuration Name", "baseline"},
	{"OS Name and Version", "os, or os_release in the dump"},
	{"Asset Type", "asset_type"},
	{"Hardware Make/Model", "hardware"},
	{"In Latest Scan", "in_latest_scan"},
	{"Software/ Database Vendor", "the package's Vendor tag"},
	{"Software/ Database Name & Version", "the package"},
	{"Diagram Label", "diagram_label"},
	{"Function", "function, or the package's Summary"},
}

func colIndex(name string) int {
	for i, c := range FedRAMPColumns {
		if c == name {
			return i
		}
	}
	panic("export: no FedRAMP column " + name)
}

// FedRAMP writes the workbook's columns as CSV: one row per host and
// installed package, or with PerPython also one per Python component. It
// returns one warning per host whose mandatory columns the inputs leave
// empty, naming the host, the columns and where to fill them in.
func FedRAMP(w io.Writer, rep *inventory.Report, g Granularity, meta Meta) ([]string, error) {
	cw, err := csvWriter(w, FedRAMPColumns)
	if err != nil {
		return nil, err
	}
	var warnings []string
	for i := range rep.Hosts {
		h := &rep.Hosts[i]
		empty := map[string]bool{}
		write := func(rec []string) error {
			for _, m := range fedRAMPMandatory {
				if strings.TrimSpace(rec[colIndex(m.column)]) == "" {
					empty[m.column] = true
				}
			}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			return nil
		}
		for _, r := range installedRows(h) {
			p := r.Installed
			rec := hostColumns(h)
			rec[colIndex("Software/ Database Vendor")] = p.Vendor
			rec[colIndex("Software/ Database Name & Version")] = p.Name + " " + p.EVR()
			rec[colIndex("Patch Level")] = p.Release
			rec[colIndex("Comments")] = rowComment(h, r)
			rec[colIndex("Function")] = h.Info.Function
			if r.Published != nil && r.Published.Summary != "" {
				rec[colIndex("Function")] = r.Published.Summary
			}
			rec[colIndex("End-of-Life")] = meta.EOL.Lookup(p.Name, p.Version)
			if err := write(rec); err != nil {
				return nil, err
			}
			if g != PerPython {
				continue
			}
			for _, c := range r.Components {
				crec := hostColumns(h)
				crec[colIndex("Software/ Database Vendor")] = p.Vendor
				crec[colIndex("Software/ Database Name & Version")] = c.Name + " " + c.Version
				crec[colIndex("Comments")] = fmt.Sprintf("Python component %s (licence %s) bundled in %s", c.PURL, orUnknown(c.License), p.NEVRA())
				crec[colIndex("Function")] = "Python library used by " + p.Name
				crec[colIndex("End-of-Life")] = meta.EOL.Lookup(c.Name, c.Version)
				if err := write(crec); err != nil {
					return nil, err
				}
			}
		}
		if len(empty) > 0 {
			var parts []string
			for _, m := range fedRAMPMandatory {
				if empty[m.column] {
					parts = append(parts, fmt.Sprintf("%s (%s)", m.column, m.hint))
				}
			}
			warnings = append(warnings, fmt.Sprintf("fedramp: host %s: mandatory columns left empty: %s", h.Info.Name, strings.Join(parts, ", ")))
		}
	}
	sort.Strings(warnings)
	return warnings, flush(cw)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func hostColumns(h *inventory.HostReport) []string {
	rec := make([]string, len(FedRAMPColumns))
	i := h.Info
	set := func(col, v string) { rec[colIndex(col)] = v }
	set("UNIQUE ASSET IDENTIFIER", h.AssetID())
	set("IPv4 or IPv6 Address", i.Address)
	set("Virtual", yesNo(i.Virtual))
	set("Public", yesNo(i.Public))
	set("DNS Name or URL", h.DNS())
	set("NetBIOS Name", i.NetBIOS)
	set("MAC Address", i.MAC)
	set("Authenticated Scan", yesNo(i.AuthenticatedScan))
	set("Baseline Configuration Name", i.Baseline)
	set("OS Name and Version", h.OS())
	set("Location", i.Location)
	set("Asset Type", i.AssetType)
	set("Hardware Make/Model", i.Hardware)
	set("In Latest Scan", yesNo(i.InLatestScan))
	set("Diagram Label", i.DiagramLabel)
	set("Serial #/Asset Tag#", i.Serial)
	set("VLAN/ Network ID", i.VLAN)
	set("System Administrator/ Owner", i.Owner)
	set("Application Administrator/ Owner", i.AppOwner)
	return rec
}

// rowComment summarises provenance, drift, signature and commit.
func rowComment(h *inventory.HostReport, r inventory.Row) string {
	var parts []string
	if h.Info.Comments != "" {
		parts = append(parts, h.Info.Comments)
	}
	switch r.Provenance {
	case inventory.Published:
		parts = append(parts, "published by us ("+strings.Join(r.PublishedIn, ", ")+")")
	case inventory.Unverified:
		parts = append(parts, "published NEVRA, digest not compared")
	case inventory.DigestMismatch:
		parts = append(parts, "same NEVRA as published but a different header digest")
	case inventory.Unpublished:
		parts = append(parts, "never published by us")
	}
	if h.Channel != "" {
		parts = append(parts, "channel "+h.Channel+": "+driftText(r))
	}
	if p := r.Installed; p != nil {
		if p.SigningKey != "" {
			parts = append(parts, "signed by key "+p.SigningKey)
		}
		if c := commitOf(p.VCS); c != "" {
			parts = append(parts, "commit "+shortCommit(c))
		}
	}
	return strings.Join(parts, "; ")
}
