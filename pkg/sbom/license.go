package sbom

import (
	"strings"

	"github.com/github/go-spdx/v2/spdxexp"

	"github.com/rpmforge/rpmforge/pkg/pydist"
)

// License is what is known of a component's licence: a valid SPDX
// expression (a single identifier is an expression too), or else a free-text
// name; both empty means unknown.
type License struct {
	Expression string `json:",omitempty"`
	Name       string `json:",omitempty"`
}

// Unknown reports whether nothing is known.
func (l License) Unknown() bool { return l.Expression == "" && l.Name == "" }

// String is the expression, the name, or "unknown".
func (l License) String() string {
	switch {
	case l.Expression != "":
		return l.Expression
	case l.Name != "":
		return l.Name
	}
	return "unknown"
}

// ParseLicense returns s as a normalised SPDX expression when it is one
// (deprecated identifiers such as "GPL-2.0+" included), or as a name.
func ParseLicense(s string) License {
	s = strings.TrimSpace(s)
	if s == "" {
		return License{}
	}
	if e := spdxExpression(s); e != "" {
		return License{Expression: e}
	}
	return License{Name: s}
}

func spdxExpression(s string) string {
	if strings.ContainsAny(s, "\n\r") {
		return ""
	}
	norm, bad := spdxexp.ValidateAndNormalizeLicensesWithOptions([]string{s}, spdxexp.ValidateLicensesOptions{})
	if len(bad) > 0 || len(norm) != 1 {
		return ""
	}
	return norm[0]
}

// licenseAliases maps free-text License fields and trove classifiers that
// name exactly one SPDX licence. Ambiguous ones ("BSD License", "Apache
// Software License", "GPL") are deliberately absent: they stay names.
var licenseAliases = map[string]string{
	"mit license":                          "MIT",
	"the mit license":                      "MIT",
	"mit-license":                          "MIT",
	"apache 2.0":                           "Apache-2.0",
	"apache 2":                             "Apache-2.0",
	"apache-2":                             "Apache-2.0",
	"apache license 2.0":                   "Apache-2.0",
	"apache license, version 2.0":          "Apache-2.0",
	"apache software license 2.0":          "Apache-2.0",
	"apache license version 2.0":           "Apache-2.0",
	"bsd 3-clause":                         "BSD-3-Clause",
	"bsd-3":                                "BSD-3-Clause",
	"3-clause bsd":                         "BSD-3-Clause",
	"new bsd":                              "BSD-3-Clause",
	"new bsd license":                      "BSD-3-Clause",
	"modified bsd":                         "BSD-3-Clause",
	"bsd 2-clause":                         "BSD-2-Clause",
	"simplified bsd":                       "BSD-2-Clause",
	"isc license":                          "ISC",
	"isc license (iscl)":                   "ISC",
	"psf":                                  "PSF-2.0",
	"psfl":                                 "PSF-2.0",
	"python software foundation license":   "PSF-2.0",
	"mpl 2.0":                              "MPL-2.0",
	"mpl-2":                                "MPL-2.0",
	"mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
	"gplv2":                                "GPL-2.0-only",
	"gplv2+":                               "GPL-2.0-or-later",
	"gplv3":                                "GPL-3.0-only",
	"gplv3+":                               "GPL-3.0-or-later",
	"lgplv2+":                              "LGPL-2.1-or-later",
	"lgplv3":                               "LGPL-3.0-only",
	"lgplv3+":                              "LGPL-3.0-or-later",
	"the unlicense (unlicense)":            "Unlicense",
	"gnu general public license v2 or later (gplv2+)":         "GPL-2.0-or-later",
	"gnu general public license v3 (gplv3)":                   "GPL-3.0-only",
	"gnu general public license v3 or later (gplv3+)":         "GPL-3.0-or-later",
	"gnu general public license v2 (gplv2)":                   "GPL-2.0-only",
	"gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0-or-later",
	"gnu lesser general public license v3 (lgplv3)":           "LGPL-3.0-only",
	"gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
	"gnu affero general public license v3":                    "AGPL-3.0-only",
	"gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
	"eclipse public license 2.0 (epl-2.0)":                    "EPL-2.0",
	"boost software license 1.0 (bsl-1.0)":                    "BSL-1.0",
	"zero-clause bsd (0bsd)":                                  "0BSD",
}

const classifierPrefix = "License :: "

// ResolveLicense decides a distribution's licence, in this order:
// License-Expression (PEP 639) when a valid SPDX expression; the License
// field when it is one or names exactly one SPDX licence; a single licence
// classifier naming exactly one SPDX licence; then as a name, the License
// field when it is one short line, else the licence classifiers. Nothing of
// these: unknown.
func ResolveLicense(d pydist.Dist) License {
	if e := spdxExpression(d.LicenseExpression); e != "" {
		return License{Expression: e}
	}
	field := strings.TrimSpace(d.License)
	if field != "" {
		if e := spdxExpression(field); e != "" {
			return License{Expression: e}
		}
		if id, ok := licenseAliases[strings.ToLower(field)]; ok {
			return License{Expression: id}
		}
	}
	var leaves []string
	for _, c := range d.Classifiers {
		rest, ok := strings.CutPrefix(c, classifierPrefix)
		if !ok {
			continue
		}
		parts := strings.Split(rest, " :: ")
		leaves = append(leaves, strings.TrimSpace(parts[len(parts)-1]))
	}
	if len(leaves) == 1 {
		if id, ok := licenseAliases[strings.ToLower(leaves[0])]; ok {
			return License{Expression: id}
		}
	}
	if field != "" && !strings.Contains(field, "\n") && len(field) <= 100 {
		return License{Name: field}
	}
	if len(leaves) > 0 {
		return License{Name: strings.Join(leaves, "; ")}
	}
	if d.LicenseExpression != "" { // invalid expression: keep what it says
		return License{Name: d.LicenseExpression}
	}
	return License{}
}
