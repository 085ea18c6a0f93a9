package repo

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDatabase compares the sqlite databases Publish writes with
// createrepo_c's, table by table (rows keyed by pkgId, order ignored), and
// checks that db_info names the XML file each was made from.
func TestDatabase(t *testing.T) {
	needTool(t, "createrepo_c")
	t.Parallel()
	dir := t.TempDir()
	writeCorpus(t, dir, 0, 20, 1)
	for _, p := range rpmbuildAll(t, "../../testdata/repo/tricky.spec") {
		if !strings.Contains(p, "-ctl-") { // createrepo_c refuses it
			copyFile(t, p, filepath.Join(dir, "built", filepath.Base(p)))
		}
	}
	os.Remove(filepath.Join(dir, "pkg00010-1.3-1.x86_64.rpm")) // control characters too
	crOut := t.TempDir()
	cmd := []string{"--database"}
	createrepoDB(t, dir, crOut, cmd...)
	res := publish(t, dir, Options{Database: true})
	if res.Repomd.Record("primary_db") == nil || res.Repomd.Record("primary_db").DatabaseVersion != 10 {
		t.Fatalf("no primary_db record: %+v", res.Repomd)
	}
	check(t, dir)

	for _, k := range kindNames {
		got := openDB(t, dir, k+"_db")
		want := openDB(t, crOut, k+"_db")
		tables := map[string]string{
			"primary":   "packages files requires provides conflicts obsoletes suggests enhances recommends supplements",
			"filelists": "packages filelist",
			"other":     "packages changelog",
		}[k]
		for _, table := range strings.Fields(tables) {
			g, w := dumpTable(t, got, table), dumpTable(t, want, table)
			if !slices.Equal(g, w) {
				t.Errorf("%s.%s differs:\n%s", k, table, firstDiff(g, w))
			} else {
				t.Logf("%s.%s: %d rows equal", k, table, len(g))
			}
		}
		var v int
		var sum string
		if err := got.QueryRow(`SELECT dbversion, checksum FROM db_info`).Scan(&v, &sum); err != nil {
			t.Fatal(err)
		}
		if v != 10 || sum != res.Repomd.Record(k).Checksum {
			t.Errorf("%s db_info: version %d, checksum %s; want 10, %s", k, v, sum, res.Repomd.Record(k).Checksum)
		}
	}

	// Unchanged publish keeps the databases; a change rewrites them.
	if res := publish(t, dir, Options{Database: true}); !res.Unchanged {
		t.Errorf("second publish with --database not unchanged: %+v", res)
	}
}

func createrepoDB(t *testing.T, dir, out string, args ...string) {
	t.Helper()
	createrepoArgs(t, dir, out, args...)
}

// openDB decompresses and opens a repository's database.
func openDB(t *testing.T, dir, typ string) *sql.DB {
	t.Helper()
	md := parseRepo(t, dir).md
	rec := md.Record(typ)
	if rec == nil {
		t.Fatalf("%s: no %s", dir, typ)
	}
	raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rec.Location)))
	if err != nil {
		t.Fatal(err)
	}
	data, err := decompress(rec.Location, raw)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), typ+".sqlite")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", p+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dumpTable returns a table's rows as sorted strings, pkgKey replaced by the
// package's pkgId.
func dumpTable(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	q := "SELECT * FROM " + table
	if table != "packages" {
		q = "SELECT p.pkgId, t.* FROM " + table + " t JOIN packages p ON p.pkgKey = t.pkgKey"
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, c := range cols {
			if c == "pkgKey" {
				continue
			}
			v := vals[i]
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%s=%#v ", c, v)
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out
}

func firstDiff(got, want []string) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("row %d (of %d, want %d):\n\tgot  %s\n\twant %s", i, len(got), len(want), g, w)
		}
	}
	return ""
}
