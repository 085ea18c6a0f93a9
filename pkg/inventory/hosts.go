package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// HostInfo is what rpm cannot tell about a host: the hosts.toml entry.
// Field names follow the FedRAMP Integrated Inventory Workbook columns they
// fill.
type HostInfo struct {
	Name string `toml:"-" json:"name"` // the table key
	// Aliases are other names inputs use for the host (a raw rpmdb's
	// directory name, a short host name in a dump).
	Aliases           []string `toml:"aliases" json:"aliases,omitempty"`
	AssetID           string   `toml:"asset_id" json:"asset_id,omitempty"` // UNIQUE ASSET IDENTIFIER (default: the name)
	Address           string   `toml:"address" json:"address,omitempty"`   // IPv4 or IPv6 Address
	Virtual           *bool    `toml:"virtual" json:"virtual,omitempty"`
	Public            *bool    `toml:"public" json:"public,omitempty"`
	DNS               string   `toml:"dns" json:"dns,omitempty"` // DNS Name or URL (default: the name when it has a dot)
	NetBIOS           string   `toml:"netbios" json:"netbios,omitempty"`
	MAC               string   `toml:"mac" json:"mac,omitempty"`
	AuthenticatedScan *bool    `toml:"authenticated_scan" json:"authenticated_scan,omitempty"`
	Baseline          string   `toml:"baseline" json:"baseline,omitempty"` // Baseline Configuration Name
	OS                string   `toml:"os" json:"os,omitempty"`             // OS Name and Version (default: the dump's os_release)
	Location          string   `toml:"location" json:"location,omitempty"`
	AssetType         string   `toml:"asset_type" json:"asset_type,omitempty"`
	Hardware          string   `toml:"hardware" json:"hardware,omitempty"` // Hardware Make/Model
	InLatestScan      *bool    `toml:"in_latest_scan" json:"in_latest_scan,omitempty"`
	DiagramLabel      string   `toml:"diagram_label" json:"diagram_label,omitempty"`
	Comments          string   `toml:"comments" json:"comments,omitempty"`
	Serial            string   `toml:"serial" json:"serial,omitempty"` // Serial #/Asset Tag#
	VLAN              string   `toml:"vlan" json:"vlan,omitempty"`     // VLAN/ Network ID
	Owner             string   `toml:"owner" json:"owner,omitempty"`   // System Administrator/ Owner
	AppOwner          string   `toml:"app_owner" json:"app_owner,omitempty"`
	Function          string   `toml:"function" json:"function,omitempty"`
	// Channel is the channel the host follows (drift is measured against it).
	Channel string `toml:"channel" json:"channel,omitempty"`
}

// Hosts is a parsed hosts.toml.
type Hosts struct {
	Path  string
	Hosts []HostInfo // sorted by name
}

type hostsFile struct {
	Hosts map[string]HostInfo `toml:"hosts"`
}

// LoadHosts reads hosts.toml:
//
//	[hosts."web1.example.com"]
//	aliases = ["web1"]
//	address = "10.0.0.11"
//	virtual = true
//	public = false
//	channel = "stable"
//	baseline = "RHEL9-CIS-L1"
//	diagram_label = "APP-1"
//	owner = "ops@example.com"
//	function = "Django front end"
//
// Unknown keys are errors naming the file and key; so is a name or alias
// used twice.
func LoadHosts(path string) (*Hosts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	var f hostsFile
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("inventory: %s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("inventory: %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("inventory: %s: unknown key %s (see docs/inventory.md for hosts.toml)", path, strings.Join(keys, ", "))
	}
	hs := &Hosts{Path: path}
	seen := map[string]string{}
	for name, h := range f.Hosts {
		h.Name = name
		for _, n := range append([]string{name}, h.Aliases...) {
			k := strings.ToLower(n)
			if prev, ok := seen[k]; ok && prev != name {
				return nil, fmt.Errorf("inventory: %s: hosts.%q: name %q is also used by hosts.%q", path, name, n, prev)
			}
			seen[k] = name
		}
		hs.Hosts = append(hs.Hosts, h)
	}
	sort.Slice(hs.Hosts, func(i, j int) bool { return hs.Hosts[i].Name < hs.Hosts[j].Name })
	return hs, nil
}

// Find returns the entry whose name or alias is name (case-insensitive).
func (hs *Hosts) Find(name string) (HostInfo, bool) {
	if hs == nil {
		return HostInfo{}, false
	}
	for _, h := range hs.Hosts {
		if strings.EqualFold(h.Name, name) {
			return h, true
		}
		for _, a := range h.Aliases {
			if strings.EqualFold(a, name) {
				return h, true
			}
		}
	}
	return HostInfo{}, false
}
