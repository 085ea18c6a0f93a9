package inventory

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/rpmforge/rpmforge/pkg/pydist"
)

// EOLEntry says when a release line of a package or component stops being
// supported.
type EOLEntry struct {
	Name string `toml:"name"`
	// Version is a release line: "3.2" matches 3.2, 3.2.25 and 3.2-1, not
	// 3.20; empty matches every version.
	Version string `toml:"version"`
	Date    string `toml:"date"` // YYYY-MM-DD
}

// EOL is the end-of-life table the user provides (--eol).
type EOL struct{ Entries []EOLEntry }

// LoadEOL reads the table from TOML ([[eol]] name/version/date) or, for a
// .csv file, CSV with the header name,version,date.
func LoadEOL(path string) (*EOL, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	var e EOL
	if strings.HasSuffix(strings.ToLower(path), ".csv") {
		e.Entries, err = eolCSV(data, path)
	} else {
		e.Entries, err = eolTOML(data, path)
	}
	if err != nil {
		return nil, err
	}
	for i, x := range e.Entries {
		if x.Name == "" {
			return nil, fmt.Errorf("inventory: %s: entry %d: name is empty", path, i+1)
		}
		if _, err := time.Parse(time.DateOnly, x.Date); err != nil {
			return nil, fmt.Errorf("inventory: %s: entry %d (%s %s): date %q is not YYYY-MM-DD", path, i+1, x.Name, x.Version, x.Date)
		}
	}
	return &e, nil
}

func eolTOML(data []byte, path string) ([]EOLEntry, error) {
	var f struct {
		EOL []EOLEntry `toml:"eol"`
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("inventory: %s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("inventory: %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("inventory: %s: unknown key %s (want [[eol]] with name, version, date)", path, und[0])
	}
	return f.EOL, nil
}

func eolCSV(data []byte, path string) ([]EOLEntry, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("inventory: %s: header: %w", path, err)
	}
	idx := map[string]int{}
	for i, h := range head {
		idx[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, k := range []string{"name", "version", "date"} {
		if _, ok := idx[k]; !ok {
			return nil, fmt.Errorf("inventory: %s: header has no %q column (want name,version,date)", path, k)
		}
	}
	var out []EOLEntry
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("inventory: %s: %w", path, err)
		}
		out = append(out, EOLEntry{Name: rec[idx["name"]], Version: rec[idx["version"]], Date: rec[idx["date"]]})
	}
}

// Lookup returns the end-of-life date of name at version: the entry with
// the longest matching release line; "" when none matches. Names compare
// as PEP 503 normalised names (Django = django).
func (e *EOL) Lookup(name, version string) string {
	if e == nil {
		return ""
	}
	best, bestLen := "", -1
	n := pydist.Normalize(name)
	for _, x := range e.Entries {
		if pydist.Normalize(x.Name) != n {
			continue
		}
		v := strings.TrimSpace(x.Version)
		if v != "" && v != "*" && version != v && !strings.HasPrefix(version, v+".") && !strings.HasPrefix(version, v+"-") {
			continue
		}
		if len(v) > bestLen {
			best, bestLen = x.Date, len(v)
		}
	}
	return best
}
