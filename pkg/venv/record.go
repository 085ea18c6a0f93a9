package venv

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
)

// fixRecords updates every RECORD row that lists a rewritten file. RECORD
// paths are relative to the directory holding the .dist-info (site-packages),
// e.g. "../../../bin/gunicorn"; absolute ones are matched against the venv's
// old and new paths.
func (r *relocator) fixRecords() {
	changed := maps.Clone(r.overrides)
	for _, rel := range slices.Sorted(maps.Keys(r.records)) {
		content := r.records[rel]
		if ov, ok := r.overrides[rel]; ok {
			content = ov
		}
		site := path.Dir(path.Dir(rel))
		out, err := updateRecord(content, func(p string) ([]byte, bool) {
			key, ok := r.recordTarget(site, p)
			if !ok {
				return nil, false
			}
			c, ok := changed[key]
			return c, ok
		})
		if err != nil {
			r.problem(rel, "malformed RECORD (%v); reinstall the distribution (pip install --force-reinstall)", err)
			continue
		}
		if out != nil {
			r.overrides[rel] = out
		}
	}
}

// recordTarget maps a RECORD path to a slash path relative to the venv.
func (r *relocator) recordTarget(site, p string) (string, bool) {
	if path.IsAbs(p) {
		p = path.Clean(p)
		for _, pre := range append([]string{r.to}, r.prefixes...) {
			if strings.HasPrefix(p, pre+"/") {
				return p[len(pre)+1:], true
			}
		}
		return "", false
	}
	q := path.Clean(path.Join(site, p))
	if q == ".." || strings.HasPrefix(q, "../") {
		return "", false
	}
	return q, true
}

// updateRecord returns content with the hash and size of every row for which
// lookup returns new file content replaced, or nil if no row changed. Rows
// are otherwise kept byte for byte: quoting, order and line endings (pip
// writes "\r\n"). An empty hash or size field stays empty.
func updateRecord(content []byte, lookup func(path string) ([]byte, bool)) ([]byte, error) {
	var out []byte
	line := 1
	for start := 0; start < len(content); {
		fields, bodyEnd, next, err := scanRow(content, start)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		row := content[start:next]
		if len(fields) == 3 {
			f := func(i int) string { return string(content[fields[i][0]:fields[i][1]]) }
			if data, ok := lookup(unquote(f(0))); ok {
				hashField, sizeField := f(1), f(2)
				if hashField != "" {
					hashField = recordHash(hashField, data)
				}
				if sizeField != "" {
					sizeField = strconv.Itoa(len(data))
				}
				if hashField != f(1) || sizeField != f(2) {
					if out == nil {
						out = append(make([]byte, 0, len(content)+64), content[:start]...)
					}
					out = append(out, content[start:fields[0][1]]...)
					out = append(out, ',')
					out = append(out, hashField...)
					out = append(out, ',')
					out = append(out, sizeField...)
					out = append(out, content[bodyEnd:next]...)
					row = nil
				}
			}
		}
		if out != nil {
			out = append(out, row...)
		}
		start = next
		line++
	}
	return out, nil
}

// scanRow splits the CSV row starting at content[start] into raw field spans
// (quotes included). bodyEnd is where the line terminator ("\n" or "\r\n")
// begins and next where the following row starts. A quoted field may span
// lines.
func scanRow(content []byte, start int) (fields [][2]int, bodyEnd, next int, err error) {
	fs, i, inQuote := start, start, false
	for ; i < len(content); i++ {
		c := content[i]
		if inQuote {
			if c == '"' {
				if i+1 < len(content) && content[i+1] == '"' {
					i++
				} else {
					inQuote = false
				}
			}
			continue
		}
		if c == '"' && i == fs {
			inQuote = true
		} else if c == ',' {
			fields = append(fields, [2]int{fs, i})
			fs = i + 1
		} else if c == '\n' {
			break
		}
	}
	if inQuote {
		return nil, 0, 0, errors.New("unterminated quoted field")
	}
	bodyEnd = i
	if bodyEnd > fs && content[bodyEnd-1] == '\r' {
		bodyEnd--
	}
	fields = append(fields, [2]int{fs, bodyEnd})
	next = i
	if i < len(content) {
		next++
	}
	return fields, bodyEnd, next, nil
}

func unquote(f string) string {
	if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
		return strings.ReplaceAll(f[1:len(f)-1], `""`, `"`)
	}
	return f
}

// recordHash renders "algo=<urlsafe base64, no padding>" of data, keeping the
// row's algorithm when it is sha256, sha384 or sha512 and using sha256
// otherwise (the wheel spec's default; Debian's hex digests become base64).
func recordHash(old string, data []byte) string {
	algo, _, _ := strings.Cut(old, "=")
	var h hash.Hash
	switch algo {
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		algo, h = "sha256", sha256.New()
	}
	h.Write(data)
	return algo + "=" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}
