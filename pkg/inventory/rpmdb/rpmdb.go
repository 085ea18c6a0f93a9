// Package rpmdb reads rpm databases copied from hosts: Berkeley DB
// (Packages, EL7/EL8), SQLite (rpmdb.sqlite, EL9 and Fedora) and NDB
// (Packages.db, SUSE), with the pure-Go storage readers of
// github.com/knqyf263/go-rpmdb v0.1.1 and modernc.org/sqlite (no cgo).
//
// go-rpmdb v0.1.1 opens SQLite read-write and rewrites or removes the -wal
// and -shm files beside the database, so Read always works on a copy (the
// database and its -wal) in a temporary directory. The package headers are
// decoded here rather than with go-rpmdb's PackageInfo, which lacks
// BUILDTIME, SHA256HEADER, RSAHEADER and VCS and misreads version 3 SIGPGP
// signatures.
package rpmdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/knqyf263/go-rpmdb/pkg/bdb"
	dbi "github.com/knqyf263/go-rpmdb/pkg/db"
	"github.com/knqyf263/go-rpmdb/pkg/ndb"
	"github.com/knqyf263/go-rpmdb/pkg/sqlite3"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver go-rpmdb's sqlite3 opens

	"github.com/rpmforge/rpmforge/pkg/inventory"
)

// Backends.
const (
	SQLite = "sqlite"
	NDB    = "ndb"
	BDB    = "bdb"
)

// DBFiles are the database file names Find looks for in a directory, in order.
var DBFiles = []string{"rpmdb.sqlite", "Packages.db", "Packages"}

// Find returns the database file at path: path itself, or the first of
// DBFiles inside it when it is a directory (a copy of /var/lib/rpm).
func Find(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("rpmdb: %w", err)
	}
	if !st.IsDir() {
		return path, nil
	}
	for _, n := range DBFiles {
		if st, err := os.Stat(filepath.Join(path, n)); err == nil && st.Mode().IsRegular() {
			return filepath.Join(path, n), nil
		}
	}
	return "", fmt.Errorf("rpmdb: %s: no %v in the directory", path, DBFiles)
}

// Detect names the backend of a database file by its magic bytes; "" when
// it is none of them.
func Detect(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("rpmdb: %w", err)
	}
	defer f.Close()
	head := make([]byte, 16)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", fmt.Errorf("rpmdb: %s: %w", file, err)
	}
	head = head[:n]
	switch {
	case bytes.Equal(head, sqlite3.SQLite3_HeaderMagic):
		return SQLite, nil
	case len(head) >= 4 && string(head[:4]) == "RpmP":
		return NDB, nil
	case len(head) >= 16 && (bytes.Equal(head[12:16], []byte{0x61, 0x15, 0x06, 0x00}) || bytes.Equal(head[12:16], []byte{0x00, 0x06, 0x15, 0x61})):
		return BDB, nil
	}
	return "", nil
}

// HostName guesses the host a copied database belongs to: the directory
// holding it ("hostA/rpmdb.sqlite" -> "hostA"; "hostA/var/lib/rpm/Packages"
// -> "hostA"), or the path itself when it names no standard file.
func HostName(path string) string {
	path = filepath.Clean(path)
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		isDB := false
		for _, n := range DBFiles {
			if filepath.Base(path) == n {
				isDB = true
			}
		}
		if !isDB {
			return filepath.Base(path)
		}
		dir = filepath.Dir(path)
	}
	for _, suffix := range []string{"/var/lib/rpm", "/usr/lib/sysimage/rpm"} {
		if d, ok := cutSuffix(filepath.ToSlash(dir), suffix); ok && d != "" {
			dir = filepath.FromSlash(d)
		}
	}
	return filepath.Base(dir)
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// Read reads every package header of the database at path (a file or a
// directory, see Find) from a temporary copy. host names the host; "" uses
// HostName(path).
func Read(path, host string) (*inventory.HostData, error) {
	file, err := Find(path)
	if err != nil {
		return nil, err
	}
	backend, err := Detect(file)
	if err != nil {
		return nil, err
	}
	if backend == "" {
		return nil, fmt.Errorf("rpmdb: %s: not a Berkeley DB, SQLite or NDB rpm database", file)
	}
	tmp, err := os.MkdirTemp("", "rpmforge-rpmdb-")
	if err != nil {
		return nil, fmt.Errorf("rpmdb: %w", err)
	}
	defer os.RemoveAll(tmp)
	copyPath := filepath.Join(tmp, filepath.Base(file))
	if err := copyFile(file, copyPath); err != nil {
		return nil, err
	}
	if backend == SQLite {
		if _, err := os.Stat(file + "-wal"); err == nil {
			if err := copyFile(file+"-wal", copyPath+"-wal"); err != nil {
				return nil, err
			}
		}
	}
	var db dbi.RpmDBInterface
	switch backend {
	case SQLite:
		db, err = sqlite3.Open(copyPath)
	case NDB:
		db, err = ndb.Open(copyPath)
	case BDB:
		db, err = bdb.Open(copyPath)
	}
	if err != nil {
		return nil, fmt.Errorf("rpmdb: %s: opening the %s database: %w", file, backend, err)
	}
	defer db.Close()
	var pkgs []inventory.Installed
	var firstErr error
	n := 0
	for e := range db.Read() { // always drained: the reader goroutine blocks otherwise
		n++
		if firstErr != nil {
			continue
		}
		if e.Err != nil {
			firstErr = fmt.Errorf("rpmdb: %s: reading record %d: %w", file, n, e.Err)
			continue
		}
		p, err := Decode(e.Value)
		if err != nil {
			firstErr = fmt.Errorf("rpmdb: %s: record %d: %w", file, n, err)
			continue
		}
		pkgs = append(pkgs, p)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("rpmdb: %s: the %s database holds no packages", file, backend)
	}
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := pkgs[i], pkgs[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if c := inventory.CompareEVR(a.Epoch, a.Version, a.Release, b.Epoch, b.Version, b.Release); c != 0 {
			return c < 0
		}
		return a.Arch < b.Arch
	})
	if host == "" {
		host = HostName(path)
	}
	return &inventory.HostData{Name: host, Source: path, Kind: "rpmdb", Backend: backend, Packages: pkgs}, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("rpmdb: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("rpmdb: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("rpmdb: copying %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("rpmdb: copying %s: %w", src, err)
	}
	return nil
}
