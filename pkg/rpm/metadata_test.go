package rpm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Metadata)
		wantErr string // "" = valid
	}{
		{"sample", func(*Metadata) {}, ""},
		{"minimal", func(m *Metadata) {
			*m = Metadata{Name: "a", Version: "1", Release: "1", Arch: "noarch", Summary: "s", License: "MIT"}
		}, ""},
		{"version dash", func(m *Metadata) { m.Version = "1.2-3" }, `rpm: metadata field "version": must not contain '-'`},
		{"release dash", func(m *Metadata) { m.Release = "1-2" }, `rpm: metadata field "release": must not contain '-'`},
		{"empty name", func(m *Metadata) { m.Name = "" }, `rpm: metadata field "name": must not be empty`},
		{"name start", func(m *Metadata) { m.Name = "-x" }, `rpm: metadata field "name": must start with a letter, digit or '_'`},
		{"name blank", func(m *Metadata) { m.Name = "my app" }, `rpm: metadata field "name": illegal character ' ' in "my app"`},
		{"empty version", func(m *Metadata) { m.Version = "" }, `rpm: metadata field "version": must not be empty`},
		{"version char", func(m *Metadata) { m.Version = "1/2" }, `rpm: metadata field "version": illegal character '/' in "1/2"`},
		{"tilde ok", func(m *Metadata) { m.Version = "1.0~rc1" }, ""},
		{"empty arch", func(m *Metadata) { m.Arch = "" }, `rpm: metadata field "arch": must not be empty`},
		{"os", func(m *Metadata) { m.OS = "li nux" }, `rpm: metadata field "os": illegal character ' ' in "li nux"`},
		{"summary", func(m *Metadata) { m.Summary = " " }, `rpm: metadata field "summary": must not be empty`},
		{"summary lines", func(m *Metadata) { m.Summary = "a\nb" }, `rpm: metadata field "summary": must be one line`},
		{"license", func(m *Metadata) { m.License = "" }, `rpm: metadata field "license": must not be empty`},
		{"url lines", func(m *Metadata) { m.URL = "a\nb" }, `rpm: metadata field "url": must be one line`},
		{"utf8", func(m *Metadata) { m.Description = "\xff" }, `rpm: metadata field "description": not valid UTF-8`},
		{"nul", func(m *Metadata) { m.Scripts.Post = "a\x00" }, `rpm: metadata field "scripts.post": contains a NUL byte`},
		{"requires", func(m *Metadata) { m.Requires = []Relation{{Name: "a", Flags: SenseEqual}} }, `rpm: metadata field "requires": a: comparison without a version`},
		{"provides", func(m *Metadata) { m.Provides = []Relation{{Name: "a", Version: "1"}} }, `rpm: metadata field "provides": a: version "1" without a comparison`},
		{"rpmlib provide", func(m *Metadata) { m.Provides = []Relation{{Name: "rpmlib(X)"}} }, `rpm: metadata field "provides": rpmlib(X): rpmlib() dependencies are only allowed in requires`},
		{"changelog order", func(m *Metadata) { m.Changelog[0], m.Changelog[1] = m.Changelog[1], m.Changelog[0] },
			`rpm: metadata field "changelog[1]": entries must be newest first (2024-01-02 is newer than the entry before)`},
		{"changelog author", func(m *Metadata) { m.Changelog[0].Author = "" }, `rpm: metadata field "changelog[0]": author must be one non-empty line`},
		{"changelog time", func(m *Metadata) { m.Changelog[1].Time = time.Time{} }, `rpm: metadata field "changelog[1]": time 0001-01-01 00:00:00 +0000 UTC is outside the 32-bit range rpm stores`},
		{"buildtime", func(m *Metadata) { m.BuildTime = time.Unix(-5, 0) }, `rpm: metadata field "buildtime": 1969-12-31 23:59:55 +0000 UTC is outside the 32-bit range rpm stores`},
		{"compression", func(m *Metadata) { m.Compression = "bzip2" }, `rpm: metadata field "compression": unknown compressor "bzip2" (want gzip, xz, zstd or none, with an optional :LEVEL)`},
		{"compression level", func(m *Metadata) { m.Compression = "gzip:10" }, `rpm: metadata field "compression": level "10" for gzip must be 1-9`},
		{"compression none level", func(m *Metadata) { m.Compression = "none:1" }, `rpm: metadata field "compression": "none" takes no level`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sampleMetadata()
			tt.edit(&m)
			err := m.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Validate() = %v\nwant %s", err, tt.wantErr)
			}
			// Write must refuse the same metadata before writing anything.
			var buf bytes.Buffer
			opened := false
			e := regular("/a", 0o644, "x")
			e.Open = func() (io.ReadCloser, error) { opened = true; return content("x")() }
			if _, werr := Write(context.Background(), &buf, m, []Entry{e}, Options{}); werr == nil || werr.Error() != tt.wantErr {
				t.Fatalf("Write error = %v, want %s", werr, tt.wantErr)
			}
			var fe *fieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *fieldError", err)
			}
			if buf.Len() != 0 || opened {
				t.Fatalf("Write wrote %d bytes / opened files for invalid metadata", buf.Len())
			}
		})
	}
}

func TestParseCompression(t *testing.T) {
	for _, tt := range []struct {
		in                string
		compressor, flags string
		wantErr           bool
	}{
		{"", "gzip", "6", false},
		{"gzip", "gzip", "6", false},
		{"gzip:9", "gzip", "9", false},
		{"gzip:0", "", "", true},
		{"xz", "xz", "6", false},
		{"xz:0", "xz", "0", false},
		{"zstd", "zstd", "3", false},
		{"zstd:19", "zstd", "19", false},
		{"zstd:23", "", "", true},
		{"none", "", "", false},
		{"gzip:x", "", "", true},
		{"lzma", "", "", true},
	} {
		c, err := parseCompression(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseCompression(%q) error = %v", tt.in, err)
			continue
		}
		if err == nil && (c.compressor() != tt.compressor || c.flags() != tt.flags) {
			t.Errorf("parseCompression(%q) = %q/%q, want %q/%q", tt.in, c.compressor(), c.flags(), tt.compressor, tt.flags)
		}
	}
}
