package inventory

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The collector: one read-only rpm query per host. Its columns are
// DumpColumns; EL7's rpm 4.11 does not know SHA256HEADER, and rpm answers
// an unknown tag with exit status 0, nothing on stdout and an error on
// stderr only, so the EL7 variant leaves that column out and ParseDump
// rejects empty or malformed dumps.
const (
	CollectFormat    = `%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{VENDOR}\t%{LICENSE}\t%{INSTALLTIME}\t%{BUILDTIME}\t%{SIGMD5}\t%{SHA256HEADER}\t%{RSAHEADER:pgpsig}\t%{SOURCERPM}\t%{VCS}\n`
	CollectFormatEL7 = `%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{VENDOR}\t%{LICENSE}\t%{INSTALLTIME}\t%{BUILDTIME}\t%{SIGMD5}\t%{RSAHEADER:pgpsig}\t%{SOURCERPM}\t%{VCS}\n`
	DumpMagic        = "# rpmforge-host-inventory v1"
)

// DumpColumns are the columns of CollectFormat.
var DumpColumns = []string{"name", "epochnum", "version", "release", "arch", "vendor", "license", "installtime",
	"buildtime", "sigmd5", "sha256header", "rsaheader", "sourcerpm", "vcs"}

// CollectCommand returns the rpm command an administrator runs on each host.
func CollectCommand(el7 bool) string {
	if el7 {
		return "rpm -qa --qf '" + CollectFormatEL7 + "'"
	}
	return "rpm -qa --qf '" + CollectFormat + "'"
}

// CollectScript wraps CollectCommand in a POSIX shell snippet that also
// writes the header lines ParseDump reads (host, time, OS) and fails when
// rpm printed nothing.
func CollectScript(el7 bool) string {
	cols := DumpColumns
	if el7 {
		cols = dropColumn(cols, "sha256header")
	}
	return `set -e; out=$(` + CollectCommand(el7) + ` | LC_ALL=C sort); [ -n "$out" ] || { echo "rpm printed no packages" >&2; exit 1; }; ` +
		`printf '%s\n' '` + DumpMagic + `' "# host=$(hostname -f 2>/dev/null || hostname)" "# collected_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ` +
		`"# os_release=$(. /etc/os-release 2>/dev/null; echo "$ID $VERSION_ID")" "# columns=` + strings.Join(cols, `\t`) + `"; ` +
		`printf '%s\n' "$out"`
}

func dropColumn(cols []string, name string) []string {
	var out []string
	for _, c := range cols {
		if c != name {
			out = append(out, c)
		}
	}
	return out
}

// HostData is what one input says about one host.
type HostData struct {
	Name        string      `json:"name"` // as the input names the host
	Source      string      `json:"source"`
	Kind        string      `json:"kind"`              // "dump" or "rpmdb"
	Backend     string      `json:"backend,omitempty"` // rpmdb: "sqlite", "ndb" or "bdb"
	CollectedAt time.Time   `json:"collected_at,omitzero"`
	OSRelease   string      `json:"os_release,omitempty"`
	Packages    []Installed `json:"-"`
}

// ReadDump reads a collector dump file.
func ReadDump(path string) (*HostData, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	defer f.Close()
	h, err := ParseDump(f, path)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// ParseDump reads the collector's output: optional "# key=value" header
// lines (host, collected_at, os_release, columns), then one tab-separated
// line per package. Without a host= line the host is named after the file.
// Errors name the file and line.
func ParseDump(r io.Reader, file string) (*HostData, error) {
	h := &HostData{Source: file, Kind: "dump"}
	cols := []string(nil)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		if strings.HasPrefix(text, "#") {
			k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(text, "#")), "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "host":
				h.Name = strings.TrimSpace(v)
			case "collected_at":
				t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
				if err != nil {
					return nil, fmt.Errorf("inventory: %s:%d: collected_at: %w", file, line, err)
				}
				h.CollectedAt = t
			case "os_release":
				h.OSRelease = strings.TrimSpace(v)
			case "columns":
				cols = strings.Split(strings.ReplaceAll(strings.TrimSpace(v), `\t`, "\t"), "\t")
				for _, c := range cols {
					if !knownColumn(c) {
						return nil, fmt.Errorf("inventory: %s:%d: columns: unknown column %q (known: %s)", file, line, c, strings.Join(DumpColumns, ", "))
					}
				}
			}
			continue
		}
		if strings.HasPrefix(text, "error:") || strings.HasPrefix(text, "warning:") {
			return nil, fmt.Errorf("inventory: %s:%d: rpm reported %q: the dump is broken (an unknown tag? on EL7 use collect-command --el7)", file, line, text)
		}
		fields := strings.Split(text, "\t")
		c := cols
		if c == nil {
			switch len(fields) {
			case len(DumpColumns):
				c = DumpColumns
			case len(DumpColumns) - 1:
				c = dropColumn(DumpColumns, "sha256header")
			}
		}
		if len(fields) != len(c) || c == nil {
			return nil, fmt.Errorf("inventory: %s:%d: %d tab-separated fields, want %d (%s): not the collector's output",
				file, line, len(fields), len(DumpColumns), strings.Join(DumpColumns, ", "))
		}
		p, err := dumpPackage(c, fields)
		if err != nil {
			return nil, fmt.Errorf("inventory: %s:%d: %w", file, line, err)
		}
		h.Packages = append(h.Packages, p)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) { // the line after the last one read
			return nil, fmt.Errorf("inventory: %s:%d: line longer than 4 MiB: not the collector's output", file, line+1)
		}
		return nil, fmt.Errorf("inventory: %s: %w", file, err)
	}
	if len(h.Packages) == 0 {
		return nil, fmt.Errorf("inventory: %s: no packages: the dump is empty (rpm prints nothing for a tag it does not know: on EL7 collect with collect-command --el7)", file)
	}
	if h.Name == "" {
		h.Name = hostFromFile(file)
	}
	sortInstalled(h.Packages)
	return h, nil
}

func knownColumn(c string) bool {
	for _, k := range DumpColumns {
		if c == k {
			return true
		}
	}
	return false
}

func none(s string) string {
	if s == "(none)" {
		return ""
	}
	return s
}

func dumpPackage(cols, fields []string) (Installed, error) {
	var p Installed
	for i, c := range cols {
		v := none(fields[i])
		var err error
		switch c {
		case "name":
			p.Name = v
		case "epochnum":
			p.Epoch, err = strconv.Atoi(v)
		case "version":
			p.Version = v
		case "release":
			p.Release = v
		case "arch":
			p.Arch = v
		case "vendor":
			p.Vendor = v
		case "license":
			p.License = v
		case "installtime":
			p.InstallTime, err = unixField(v)
		case "buildtime":
			p.BuildTime, err = unixField(v)
		case "sigmd5":
			p.SIGMD5, err = hexField(v, 32)
		case "sha256header":
			p.SHA256Header, err = hexField(v, 64)
		case "rsaheader":
			p.Signature = v
			p.SigningKey = KeyIDFromText(v)
		case "sourcerpm":
			p.SourceRPM = v
		case "vcs":
			p.VCS = v
		}
		if err != nil {
			return Installed{}, fmt.Errorf("%s: %w", c, err)
		}
	}
	if p.Name == "" || p.Version == "" {
		return Installed{}, errors.New("name or version is empty")
	}
	return p, nil
}

func unixField(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a Unix time", v)
	}
	return time.Unix(n, 0).UTC(), nil
}

func hexField(v string, n int) (string, error) {
	if v == "" {
		return "", nil
	}
	v = strings.ToLower(v)
	if len(v) != n || strings.Trim(v, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%q is not %d hex digits", v, n)
	}
	return v, nil
}

// hostFromFile names a host after its dump file ("web1.qa.tsv" -> "web1").
func hostFromFile(file string) string {
	base := filepath.Base(file)
	for _, ext := range []string{".qa.tsv", ".tsv", ".txt", ".dump"} {
		if s, ok := strings.CutSuffix(base, ext); ok {
			return s
		}
	}
	return base
}

func sortInstalled(ps []Installed) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if c := CompareEVR(a.Epoch, a.Version, a.Release, b.Epoch, b.Version, b.Release); c != 0 {
			return c < 0
		}
		return a.Arch < b.Arch
	})
}
