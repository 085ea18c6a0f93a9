package repo

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // pure-Go database/sql driver "sqlite"
)

// dbVersion is the database_version of createrepo_c's and yum's schema.
const dbVersion = 10

// The schema of createrepo_c 0.17 (src/sqlite.c), which yum 3 reads.
var dbSchema = [numKinds][]string{
	Primary: {
		`CREATE TABLE db_info (dbversion INTEGER, checksum TEXT)`,
		`CREATE TABLE packages (pkgKey INTEGER PRIMARY KEY, pkgId TEXT, name TEXT, arch TEXT, version TEXT,
			epoch TEXT, release TEXT, summary TEXT, description TEXT, url TEXT, time_file INTEGER,
			time_build INTEGER, rpm_license TEXT, rpm_vendor TEXT, rpm_group TEXT, rpm_buildhost TEXT,
			rpm_sourcerpm TEXT, rpm_header_start INTEGER, rpm_header_end INTEGER, rpm_packager TEXT,
			size_package INTEGER, size_installed INTEGER, size_archive INTEGER, location_href TEXT,
			location_base TEXT, checksum_type TEXT)`,
		`CREATE TABLE files (name TEXT, type TEXT, pkgKey INTEGER)`,
		`CREATE TABLE requires (name TEXT, flags TEXT, epoch TEXT, version TEXT, release TEXT, pkgKey INTEGER, pre BOOLEAN DEFAULT FALSE)`,
		`CREATE TABLE provides (name TEXT, flags TEXT, epoch TEXT, version TEXT, release TEXT, pkgKey INTEGER)`,
		`CREATE TABLE conflicts (name TEXT, flags TEXT, epoch TEXT, version TEXT, release TEXT, pkgKey INTEGER)`,
		`CREATE TABLE obsoletes (name TEXT, flags TEXT, epoch TEXT, version TEXT, release TEXT, pkgKey INTEGER)`,
		`CREATE TABLE suggests (name TEXT, flags TEXT, epoch TEXT, version TEXT, release TEXT, pkgKey INTEGER)`,
		`CREATE TABLE enhances (name TEXT, flags TEXT, epoch TEXT, version TEXT, release TEXT, pkgKey INTEGER)`,
		`CREATE TABLE recommends (name TEXT, flags TEXT, epoch TEXT, version TEXT, release TEXT, pkgKey INTEGER)`,
		`CREATE TABLE supplements (name TEXT, flags TEXT, epoch TEXT, version TEXT, release TEXT, pkgKey INTEGER)`,
		`CREATE TRIGGER removals AFTER DELETE ON packages BEGIN
			DELETE FROM files WHERE pkgKey = old.pkgKey;
			DELETE FROM requires WHERE pkgKey = old.pkgKey;
			DELETE FROM provides WHERE pkgKey = old.pkgKey;
			DELETE FROM conflicts WHERE pkgKey = old.pkgKey;
			DELETE FROM obsoletes WHERE pkgKey = old.pkgKey;
			DELETE FROM suggests WHERE pkgKey = old.pkgKey;
			DELETE FROM enhances WHERE pkgKey = old.pkgKey;
			DELETE FROM recommends WHERE pkgKey = old.pkgKey;
			DELETE FROM supplements WHERE pkgKey = old.pkgKey;
		END`,
	},
	Filelists: {
		`CREATE TABLE db_info (dbversion INTEGER, checksum TEXT)`,
		`CREATE TABLE packages (pkgKey INTEGER PRIMARY KEY, pkgId TEXT)`,
		`CREATE TABLE filelist (pkgKey INTEGER, dirname TEXT, filenames TEXT, filetypes TEXT)`,
		`CREATE TRIGGER remove_filelist AFTER DELETE ON packages BEGIN DELETE FROM filelist WHERE pkgKey = old.pkgKey; END`,
	},
	Other: {
		`CREATE TABLE db_info (dbversion INTEGER, checksum TEXT)`,
		`CREATE TABLE packages (pkgKey INTEGER PRIMARY KEY, pkgId TEXT)`,
		`CREATE TABLE changelog (pkgKey INTEGER, author TEXT, date INTEGER, changelog TEXT)`,
		`CREATE TRIGGER remove_changelogs AFTER DELETE ON packages BEGIN DELETE FROM changelog WHERE pkgKey = old.pkgKey; END`,
	},
}

var dbIndexes = [numKinds][]string{
	Primary: {
		`CREATE INDEX packagename ON packages (name)`,
		`CREATE INDEX packageId ON packages (pkgId)`,
		`CREATE INDEX filenames ON files (name)`,
		`CREATE INDEX pkgfiles ON files (pkgKey)`,
		`CREATE INDEX pkgrequires on requires (pkgKey)`, `CREATE INDEX requiresname ON requires (name)`,
		`CREATE INDEX pkgprovides on provides (pkgKey)`, `CREATE INDEX providesname ON provides (name)`,
		`CREATE INDEX pkgconflicts on conflicts (pkgKey)`, `CREATE INDEX conflictsname ON conflicts (name)`,
		`CREATE INDEX pkgobsoletes on obsoletes (pkgKey)`, `CREATE INDEX obsoletesname ON obsoletes (name)`,
		`CREATE INDEX pkgsuggests on suggests (pkgKey)`, `CREATE INDEX suggestsname ON suggests (name)`,
		`CREATE INDEX pkgenhances on enhances (pkgKey)`, `CREATE INDEX enhancesname ON enhances (name)`,
		`CREATE INDEX pkgrecommends on recommends (pkgKey)`, `CREATE INDEX recommendsname ON recommends (name)`,
		`CREATE INDEX pkgsupplements on supplements (pkgKey)`, `CREATE INDEX supplementsname ON supplements (name)`,
	},
	Filelists: {
		`CREATE INDEX keyfile ON filelist (pkgKey)`,
		`CREATE INDEX pkgId ON packages (pkgId)`,
		`CREATE INDEX dirnames ON filelist (dirname)`,
	},
	Other: {
		`CREATE INDEX keychange ON changelog (pkgKey)`,
		`CREATE INDEX pkgId ON packages (pkgId)`,
	},
}

// writeDatabases writes primary.sqlite, filelists.sqlite and other.sqlite,
// compressed, for the packages of items. The packages' headers are read
// again (their checksums are known): the cache keeps rendered XML only.
func (p *publisher) writeDatabases(ctx context.Context, items []*item, xml []Record, current *Repomd, res *Result) ([]Record, error) {
	tmp, err := os.MkdirTemp(p.opts.StateDir, tmpPrefix+"db-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	var chans [numKinds]chan *Package
	var errs [numKinds]error
	var wg sync.WaitGroup
	for k := range numKinds {
		chans[k] = make(chan *Package, 64)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = writeDB(ctx, filepath.Join(tmp, kindNames[k]+".sqlite"), k, xml[k].Checksum, chans[k])
			for range chans[k] { // drain after an error
			}
		}()
	}
	var readErr error
	for _, it := range items {
		if readErr = ctx.Err(); readErr != nil {
			break
		}
		pkg, err := p.rereadPackage(ctx, it.e)
		if err != nil {
			readErr = fmt.Errorf("database: %w", err)
			break
		}
		for k := range numKinds {
			chans[k] <- pkg
		}
	}
	for k := range numKinds {
		close(chans[k])
	}
	wg.Wait()
	if readErr != nil {
		return nil, readErr
	}
	var recs []Record
	for k := range numKinds {
		if errs[k] != nil {
			return nil, fmt.Errorf("%s database: %w", kindNames[k], errs[k])
		}
		rec, err := p.writeCompressedFile(ctx, filepath.Join(tmp, kindNames[k]+".sqlite"), kindNames[k], current, res)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// rereadPackage reads a package's headers again, for the databases.
func (p *publisher) rereadPackage(ctx context.Context, e stateEntry) (*Package, error) {
	f, name, err := p.openEntry(ctx, e)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hdrs, err := readRPMHeaders(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return finishPackage(hdrs, e.PkgID, e.Size, time.Unix(0, e.Mtime).Unix(), e.Href, ReadOptions{ChangelogLimit: p.opts.readLimit()})
}

// nullIfEmpty maps "" to SQL NULL, as createrepo_c binds absent strings.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func writeDB(ctx context.Context, path string, k Kind, xmlChecksum string, pkgs <-chan *Package) (err error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	db.SetMaxOpenConns(1)
	for _, s := range []string{"PRAGMA synchronous = OFF", "PRAGMA journal_mode = MEMORY", "PRAGMA temp_store = MEMORY"} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	for _, s := range dbSchema[k] {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins := map[string]*sql.Stmt{}
	prep := func(name, q string) (*sql.Stmt, error) {
		if s, ok := ins[name]; ok {
			return s, nil
		}
		s, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		ins[name] = s
		return s, nil
	}
	key := int64(0)
	for pkg := range pkgs {
		key++
		switch k {
		case Primary:
			err = insertPrimary(ctx, prep, key, pkg)
		case Filelists:
			err = insertFilelists(ctx, prep, key, pkg)
		case Other:
			err = insertOther(ctx, prep, key, pkg)
		}
		if err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO db_info (dbversion, checksum) VALUES (?, ?)`, dbVersion, xmlChecksum); err != nil {
		return err
	}
	for _, s := range dbIndexes[k] {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return tx.Commit()
}

type prepFunc func(name, query string) (*sql.Stmt, error)

func insertPrimary(ctx context.Context, prep prepFunc, key int64, p *Package) error {
	s, err := prep("packages", `INSERT INTO packages (pkgKey, pkgId, name, arch, version, epoch, release, summary,
		description, url, time_file, time_build, rpm_license, rpm_vendor, rpm_group, rpm_buildhost, rpm_sourcerpm,
		rpm_header_start, rpm_header_end, rpm_packager, size_package, size_installed, size_archive, location_href,
		location_base, checksum_type) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, key, p.PkgID, p.Name, p.Arch, p.Version, p.Epoch, p.Release, p.Summary,
		p.Description, nullIfEmpty(p.URL), p.TimeFile, p.TimeBuild, p.License, p.Vendor, p.Group, p.BuildHost,
		p.SourceRPM, p.HeaderStart, p.HeaderEnd, nullIfEmpty(p.Packager), p.SizePackage, p.SizeInstalled,
		p.SizeArchive, p.Location, nil, "sha256"); err != nil {
		return err
	}
	for _, d := range []struct {
		table string
		deps  []Dependency
	}{
		{"requires", p.Requires}, {"provides", p.Provides}, {"conflicts", p.Conflicts}, {"obsoletes", p.Obsoletes},
		{"suggests", p.Suggests}, {"enhances", p.Enhances}, {"recommends", p.Recommends}, {"supplements", p.Supplements},
	} {
		q := "INSERT INTO " + d.table + " (name, flags, epoch, version, release, pkgKey) VALUES (?, ?, ?, ?, ?, ?)"
		if d.table == "requires" {
			q = "INSERT INTO requires (name, flags, epoch, version, release, pkgKey, pre) VALUES (?, ?, ?, ?, ?, ?, ?)"
		}
		s, err := prep(d.table, q)
		if err != nil {
			return err
		}
		for _, dep := range d.deps {
			args := []any{dep.Name, nullIfEmpty(dep.Flags), nullIfEmpty(dep.Epoch), nullIfEmpty(dep.Version), nullIfEmpty(dep.Release), key}
			if d.table == "requires" {
				pre := "FALSE"
				if dep.Pre {
					pre = "TRUE"
				}
				args = append(args, pre)
			}
			if _, err := s.ExecContext(ctx, args...); err != nil {
				return err
			}
		}
	}
	fs, err := prep("files", `INSERT INTO files (name, type, pkgKey) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	for _, f := range p.Files {
		if !isPrimaryFile(f.Path) {
			continue
		}
		if _, err := fs.ExecContext(ctx, f.Path, orDefault(f.Type, "file"), key); err != nil {
			return err
		}
	}
	return nil
}

func insertPkgID(ctx context.Context, prep prepFunc, key int64, p *Package) error {
	s, err := prep("packages", `INSERT INTO packages (pkgKey, pkgId) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	_, err = s.ExecContext(ctx, key, p.PkgID)
	return err
}

func insertFilelists(ctx context.Context, prep prepFunc, key int64, p *Package) error {
	if err := insertPkgID(ctx, prep, key, p); err != nil {
		return err
	}
	type enc struct{ files, types strings.Builder }
	var order []string
	dirs := map[string]*enc{}
	for _, f := range p.Files {
		i := strings.LastIndexByte(f.Path, '/')
		dir, name := f.Path[:i+1], f.Path[i+1:]
		e := dirs[dir]
		if e == nil {
			e = &enc{}
			dirs[dir] = e
			order = append(order, dir)
		}
		if e.files.Len() > 0 {
			e.files.WriteByte('/')
		}
		if name == "" {
			e.files.WriteByte('/')
		} else {
			e.files.WriteString(name)
		}
		switch f.Type {
		case "dir":
			e.types.WriteByte('d')
		case "ghost":
			e.types.WriteByte('g')
		default:
			e.types.WriteByte('f')
		}
	}
	s, err := prep("filelist", `INSERT INTO filelist (pkgKey, dirname, filenames, filetypes) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for _, dir := range order {
		name := dir
		for len(name) > 1 && name[len(name)-1] == '/' {
			name = name[:len(name)-1]
		}
		if name == "" {
			name = "."
		}
		if _, err := s.ExecContext(ctx, key, name, dirs[dir].files.String(), dirs[dir].types.String()); err != nil {
			return err
		}
	}
	return nil
}

func insertOther(ctx context.Context, prep prepFunc, key int64, p *Package) error {
	if err := insertPkgID(ctx, prep, key, p); err != nil {
		return err
	}
	s, err := prep("changelog", `INSERT INTO changelog (pkgKey, author, date, changelog) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for _, c := range p.Changelogs {
		if _, err := s.ExecContext(ctx, key, c.Author, c.Date, c.Text); err != nil {
			return err
		}
	}
	return nil
}

// writeCompressedFile compresses a local file into repodata under its
// content-addressed name, <sha256>-<kind>.sqlite<ext>.
func (p *publisher) writeCompressedFile(ctx context.Context, path, kind string, current *Repomd, res *Result) (Record, error) {
	in, err := os.Open(path)
	if err != nil {
		return Record{}, err
	}
	defer in.Close()
	ch, oh := sha256.New(), sha256.New()
	var comp countingHash
	comp.h = ch
	out, err := os.CreateTemp(p.opts.StateDir, tmpPrefix+"dbz-")
	if err != nil {
		return Record{}, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	w, err := p.opts.Compression.newStreamWriter(io.MultiWriter(out, &comp))
	if err != nil {
		return Record{}, err
	}
	n, err := io.Copy(io.MultiWriter(w, oh), in)
	if err != nil {
		return Record{}, err
	}
	if err := w.Close(); err != nil {
		return Record{}, err
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return Record{}, err
	}
	sum := hex.EncodeToString(ch.Sum(nil))
	name := "repodata/" + sum + "-" + kind + ".sqlite" + p.opts.Compression.ext()
	rec := Record{Type: kind + "_db", Checksum: sum, OpenChecksum: hex.EncodeToString(oh.Sum(nil)), Location: name,
		Size: comp.n, OpenSize: n, Timestamp: p.now.Unix(), DatabaseVersion: dbVersion}
	return rec, p.putFile(ctx, name, comp.n, out, current, &rec, res)
}

type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return c.h.Write(b)
}
