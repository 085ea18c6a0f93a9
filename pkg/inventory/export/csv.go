package export

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rpmforge/rpmforge/pkg/inventory"
)

// CSVColumns are the columns of CSV; PerPython adds CSVComponentColumns.
var (
	CSVColumns = []string{"host", "asset_id", "address", "channel", "os", "package", "arch", "installed", "provenance",
		"published_in", "drift", "behind", "available", "vendor", "license", "signing_key", "sigmd5", "sha256header",
		"commit", "install_time", "end_of_life", "components"}
	CSVComponentColumns = []string{"component", "component_version", "component_purl", "component_license", "component_end_of_life"}
)

func csvWriter(w io.Writer, header []string) (*csv.Writer, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return cw, nil
}

func flush(cw *csv.Writer) error {
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// CSV writes one row per host and package (missing channel packages
// included, with an empty installed column), or with PerPython one row per
// Python component, so "which hosts run Django older than X" is a filter
// on component and component_version.
func CSV(w io.Writer, rep *inventory.Report, g Granularity, meta Meta) error {
	header := CSVColumns
	if g == PerPython {
		header = append(append([]string(nil), CSVColumns...), CSVComponentColumns...)
	}
	cw, err := csvWriter(w, header)
	if err != nil {
		return err
	}
	for i := range rep.Hosts {
		h := &rep.Hosts[i]
		for _, r := range h.Rows {
			rec := []string{h.Info.Name, h.AssetID(), h.Info.Address, h.Channel, h.OS(), r.Name, r.Arch, "", string(r.Provenance),
				strings.Join(r.PublishedIn, " "), string(r.Drift), strconv.Itoa(r.Behind), r.Available}
			if p := r.Installed; p != nil {
				rec[7] = p.EVR()
				rec = append(rec, p.Vendor, p.License, p.SigningKey, p.SIGMD5, p.SHA256Header, commitOf(p.VCS),
					timeText(p.InstallTime), meta.EOL.Lookup(p.Name, p.Version))
			} else {
				rec = append(rec, "", "", "", "", "", "", "", "")
			}
			rec = append(rec, componentList(r.Components))
			if g != PerPython {
				if err := cw.Write(rec); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				continue
			}
			if len(r.Components) == 0 {
				if err := cw.Write(append(rec, "", "", "", "", "")); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				continue
			}
			for _, c := range r.Components {
				if err := cw.Write(append(append([]string(nil), rec...), c.Name, c.Version, c.PURL, c.License, meta.EOL.Lookup(c.Name, c.Version))); err != nil {
					return fmt.Errorf("export: %w", err)
				}
			}
		}
	}
	return flush(cw)
}

// RepoColumns are the columns of RepoCSV.
var RepoColumns = []string{"channel", "nevra", "name", "epoch", "version", "release", "arch", "sha256", "sigmd5", "sha256header",
	"signing_key", "build_time", "commit", "vcs", "license", "vendor", "summary", "path", "published_at", "promoted_from", "components"}

// RepoCSV writes one row per published package.
func RepoCSV(w io.Writer, pkgs []inventory.PublishedPackage) error {
	cw, err := csvWriter(w, RepoColumns)
	if err != nil {
		return err
	}
	for _, p := range pkgs {
		if err := cw.Write([]string{p.Channel, p.NEVRA(), p.Name, strconv.Itoa(p.Epoch), p.Version, p.Release, p.Arch, p.SHA256, p.SIGMD5,
			p.SHA256Header, p.SigningKey, timeText(p.BuildTime), p.Commit(), p.VCS, p.License, p.Vendor, p.Summary, p.Path,
			timeText(p.PublishedAt), p.PromotedFrom, componentList(p.Components)}); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	return flush(cw)
}
