// Package export writes inventory reports: CSV, JSON, the FedRAMP
// Integrated Inventory Workbook columns as CSV, CycloneDX and a
// self-contained HTML page; and listings of published packages.
package export

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rpmforge/rpmforge/pkg/inventory"
)

// Granularity chooses the rows of CSV and FedRAMP exports.
type Granularity string

// Granularities.
const (
	// PerApplication: one row per host and package.
	PerApplication Granularity = "application"
	// PerPython: one row per host, package and Python component (a package
	// without components keeps one row).
	PerPython Granularity = "python"
)

// ParseGranularity accepts "application" (or "app") and "python".
func ParseGranularity(s string) (Granularity, error) {
	switch strings.ToLower(s) {
	case "", "application", "app", "package":
		return PerApplication, nil
	case "python", "component":
		return PerPython, nil
	}
	return "", fmt.Errorf("export: granularity %q: want application or python", s)
}

// Meta is what a report says about itself.
type Meta struct {
	Title     string
	Generated time.Time // shown in HTML and CycloneDX; zero leaves it out
	Tool      string    // "rpmforge <version>"
	Version   string
	EOL       *inventory.EOL
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func yesNo(b *bool) string {
	switch {
	case b == nil:
		return ""
	case *b:
		return "Yes"
	}
	return "No"
}

// installedRows are the rows of a host that are installed packages.
func installedRows(h *inventory.HostReport) []inventory.Row {
	var out []inventory.Row
	for _, r := range h.Rows {
		if r.Installed != nil {
			out = append(out, r)
		}
	}
	return out
}

func componentList(cs []inventory.Component) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Name + " " + c.Version
	}
	return strings.Join(parts, "; ")
}

// driftText describes a row's drift in words.
func driftText(r inventory.Row) string {
	switch r.Drift {
	case inventory.Behind:
		s := "s"
		if r.Behind == 1 {
			s = ""
		}
		return fmt.Sprintf("behind by %d release%s (%s available)", r.Behind, s, r.Available)
	case inventory.Ahead:
		return fmt.Sprintf("ahead of the channel (latest %s)", r.Available)
	case inventory.Missing:
		return fmt.Sprintf("missing (%s available)", r.Available)
	}
	return string(r.Drift)
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func commitOf(vcs string) string {
	if i := strings.LastIndexByte(vcs, '#'); i >= 0 {
		return vcs[i+1:]
	}
	if c, ok := strings.CutPrefix(vcs, "git:"); ok {
		return c
	}
	return ""
}

// applications are the package names shown as matrix columns: those of
// any row, sorted.
func applications(rep *inventory.Report) []string {
	set := map[string]bool{}
	for _, h := range rep.Hosts {
		for _, r := range h.Rows {
			set[r.Name] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
