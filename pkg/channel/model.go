package channel

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// Package is a package of a channel: an object of the pool, named by the
// SHA-256 of its bytes.
type Package struct {
	Name    string `json:"name"`
	Epoch   string `json:"epoch,omitempty"` // "" when the package has none
	Version string `json:"version"`
	Release string `json:"release"`
	Arch    string `json:"arch"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
}

// NEVRA returns name-[epoch:]version-release.arch.
func (p *Package) NEVRA() string {
	e := ""
	if p.Epoch != "" && p.Epoch != "0" {
		e = p.Epoch + ":"
	}
	return p.Name + "-" + e + p.Version + "-" + p.Release + "." + p.Arch
}

// EVR returns [epoch:]version-release.
func (p *Package) EVR() string {
	e := ""
	if p.Epoch != "" && p.Epoch != "0" {
		e = p.Epoch + ":"
	}
	return e + p.Version + "-" + p.Release
}

// FileName is the package's file name in a channel, as rpmbuild names it.
func (p *Package) FileName() string {
	return p.Name + "-" + p.Version + "-" + p.Release + "." + p.Arch + ".rpm"
}

// PoolName is the package's object in the pool: pool/<aa>/<sha256>.rpm.
func (p *Package) PoolName() string { return poolName(p.SHA256) }

func poolName(sum string) string { return "pool/" + sum[:2] + "/" + sum + ".rpm" }

// PackagesDir is the directory of a channel's tree holding its packages.
const PackagesDir = "Packages"

// Href is the package's location in its channel's repodata.
func (p *Package) Href() string { return PackagesDir + "/" + p.FileName() }

func comparePackages(a, b Package) int {
	return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Arch, b.Arch), compareEVR(a, b),
		strings.Compare(a.SHA256, b.SHA256))
}

// Set is the package set of a snapshot, ordered by name, arch and version.
type Set []Package

// sortSet orders s canonically.
func sortSet(s Set) { slices.SortFunc(s, comparePackages) }

// marshal returns the canonical encoding and its SHA-256, which names the
// set in the history.
func (s Set) marshal() ([]byte, string) {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // strings and ints only
	}
	b = append(b, '\n')
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

func (s Set) bySum() map[string]*Package {
	m := make(map[string]*Package, len(s))
	for i := range s {
		m[s[i].SHA256] = &s[i]
	}
	return m
}

func setName(sum string) string { return stateDir + "/sets/" + sum[:2] + "/" + sum + ".json" }

// Actions recorded in the history.
const (
	ActionAdd      = "add"
	ActionPromote  = "promote"
	ActionPrune    = "prune"
	ActionRollback = "rollback"
)

// Snapshot is one immutable revision of a channel: who changed what when,
// and the package set it published (by the SHA-256 of the set, whose
// packages carry their own SHA-256).
type Snapshot struct {
	Revision int       `json:"revision"`
	Time     time.Time `json:"time"`
	User     string    `json:"user"`
	Action   string    `json:"action"`
	// From is the source channel of a promotion.
	From string `json:"from,omitempty"`
	// RollbackTo is the revision whose package set a rollback published.
	RollbackTo int      `json:"rollback_to,omitempty"`
	Added      []string `json:"added,omitempty"`   // NEVRAs
	Removed    []string `json:"removed,omitempty"` // NEVRAs
	Set        string   `json:"set"`               // SHA-256 of the package set
	Packages   int      `json:"packages"`
	// Repomd is the revision of the repomd.xml that published it.
	Repomd   string `json:"repomd,omitempty"`
	SignedBy string `json:"signed_by,omitempty"`
	// Pending is set while the snapshot is recorded but not yet
	// published: a crash then, and the next change of the channel
	// publishes it first.
	Pending bool `json:"pending,omitempty"`
}

// history is a channel's history file.
type history struct {
	Version   int        `json:"version"`
	Channel   string     `json:"channel"`
	Snapshots []Snapshot `json:"snapshots"`
}

const historyVersion = 1

func historyName(ch string) string { return stateDir + "/channels/" + ch + "/history.json" }

func (h *history) head() *Snapshot {
	if len(h.Snapshots) == 0 {
		return nil
	}
	return &h.Snapshots[len(h.Snapshots)-1]
}

func (h *history) find(rev int) *Snapshot {
	i, ok := slices.BinarySearchFunc(h.Snapshots, rev, func(s Snapshot, r int) int { return cmp.Compare(s.Revision, r) })
	if !ok {
		return nil
	}
	return &h.Snapshots[i]
}

// loadHistory reads a channel's history; a channel never changed has an
// empty one.
func loadHistory(ctx context.Context, s Store, ch string) (*history, error) {
	name := historyName(ch)
	b, err := readFile(ctx, s, name)
	if errors.Is(err, fs.ErrNotExist) {
		return &history{Version: historyVersion, Channel: ch}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("channel %s: reading the history: %w", ch, err)
	}
	var h history
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("channel %s: %s: %w (restore it from a backup; the published repodata is intact)", ch, name, err)
	}
	if h.Version != historyVersion {
		return nil, fmt.Errorf("channel %s: %s: version %d, this rpmforge reads %d (use a newer rpmforge)", ch, name, h.Version, historyVersion)
	}
	return &h, nil
}

func saveHistory(ctx context.Context, s Store, h *history) error {
	b, err := json.MarshalIndent(h, "", " ")
	if err != nil {
		return err
	}
	if err := s.WriteFile(ctx, historyName(h.Channel), strings.NewReader(string(b)+"\n")); err != nil {
		return fmt.Errorf("channel %s: writing the history: %w", h.Channel, err)
	}
	return nil
}

// loadSet reads the package set named sum.
func loadSet(ctx context.Context, s Store, sum string) (Set, error) {
	if len(sum) != 64 {
		return nil, fmt.Errorf("bad package set name %q", sum)
	}
	b, err := readFile(ctx, s, setName(sum))
	if err != nil {
		return nil, err
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("%s: checksum mismatch (the file is damaged; restore it from a backup)", setName(sum))
	}
	var set Set
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("%s: %w", setName(sum), err)
	}
	return set, nil
}

// saveSet stores set (sorted) and returns its name.
func saveSet(ctx context.Context, s Store, set Set) (string, error) {
	b, sum := set.marshal()
	if n, err := s.Stat(ctx, setName(sum)); err == nil && n == int64(len(b)) {
		return sum, nil
	}
	if err := s.WriteFile(ctx, setName(sum), strings.NewReader(string(b))); err != nil {
		return "", fmt.Errorf("writing the package set: %w", err)
	}
	return sum, nil
}

// PoolObject is what the pool index knows of one object.
type PoolObject struct {
	Package
	Added   time.Time `json:"added"`
	AddedBy string    `json:"added_by"`
	// Source is the file name the package was added from.
	Source string `json:"source,omitempty"`
	// Signers are the fingerprints of the keys whose signatures verified
	// when it was added (keys outside the keyring are not known).
	Signers []string `json:"signers,omitempty"`
	// Unreferenced is when prune first found no retained snapshot
	// referencing the object; it is removed once the grace period is over.
	Unreferenced *time.Time `json:"unreferenced_since,omitempty"`
	// Removed is when it was removed from the pool. The entry stays so that
	// the NEVRA is never reused for other bytes.
	Removed *time.Time `json:"removed,omitempty"`
}

type poolIndex struct {
	Version int                    `json:"version"`
	Objects map[string]*PoolObject `json:"objects"` // by SHA-256
}

const poolIndexName = stateDir + "/pool.json"

func loadPoolIndex(ctx context.Context, s Store) (*poolIndex, error) {
	b, err := readFile(ctx, s, poolIndexName)
	if errors.Is(err, fs.ErrNotExist) {
		return &poolIndex{Version: historyVersion, Objects: map[string]*PoolObject{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the pool index: %w", err)
	}
	var idx poolIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w (restore it from a backup)", poolIndexName, err)
	}
	if idx.Objects == nil {
		idx.Objects = map[string]*PoolObject{}
	}
	return &idx, nil
}

func savePoolIndex(ctx context.Context, s Store, idx *poolIndex) error {
	b, err := json.MarshalIndent(idx, "", " ")
	if err != nil {
		return err
	}
	if err := s.WriteFile(ctx, poolIndexName, strings.NewReader(string(b)+"\n")); err != nil {
		return fmt.Errorf("writing the pool index: %w", err)
	}
	return nil
}

// byNEVRA maps the NEVRA of every object ever added to its SHA-256.
func (idx *poolIndex) byNEVRA() map[string]string {
	m := make(map[string]string, len(idx.Objects))
	for sum, o := range idx.Objects {
		m[o.NEVRA()] = sum
	}
	return m
}
