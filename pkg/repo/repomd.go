package repo

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
)

// Record is one <data> element of repomd.xml.
type Record struct {
	Type         string // "primary", "filelists", "other", "primary_db", ...
	Checksum     string // hex SHA-256 of the file as stored
	OpenChecksum string // hex SHA-256 of its uncompressed content; "" if not compressed
	Location     string // href, "repodata/<checksum>-primary.xml.gz"
	Timestamp    int64
	Size         int64
	OpenSize     int64 // -1 when not compressed
	// DatabaseVersion is written for sqlite databases (10), 0 otherwise.
	DatabaseVersion int
	// ChecksumType is "sha256" for the records Publish writes; records
	// carried over from another tool keep theirs.
	ChecksumType, OpenChecksumType string
}

// Repomd is the content of repodata/repomd.xml.
type Repomd struct {
	Revision string
	Records  []Record
}

// Record returns the record of type t, or nil.
func (r *Repomd) Record(t string) *Record {
	for i := range r.Records {
		if r.Records[i].Type == t {
			return &r.Records[i]
		}
	}
	return nil
}

// Marshal renders repomd.xml as createrepo_c lays it out.
func (r *Repomd) Marshal() []byte {
	b := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b = append(b, `<repomd xmlns="`+nsRepo+`" xmlns:rpm="`+nsRPM+`">`+"\n"...)
	b = textElem(b, "  ", "revision", r.Revision)
	for _, rec := range r.Records {
		b = append(b, "  <data"...)
		b = attr(b, "type", rec.Type)
		b = append(b, ">\n    <checksum"...)
		b = attr(b, "type", orDefault(rec.ChecksumType, "sha256"))
		b = append(b, '>')
		b = appendText(b, rec.Checksum)
		b = append(b, "</checksum>\n"...)
		if rec.OpenChecksum != "" {
			b = append(b, "    <open-checksum"...)
			b = attr(b, "type", orDefault(rec.OpenChecksumType, "sha256"))
			b = append(b, '>')
			b = appendText(b, rec.OpenChecksum)
			b = append(b, "</open-checksum>\n"...)
		}
		b = append(b, "    <location"...)
		b = attr(b, "href", rec.Location)
		b = append(b, "/>\n    <timestamp>"...)
		b = strconv.AppendInt(b, rec.Timestamp, 10)
		b = append(b, "</timestamp>\n    <size>"...)
		b = strconv.AppendInt(b, rec.Size, 10)
		b = append(b, "</size>\n"...)
		if rec.OpenSize >= 0 && rec.OpenChecksum != "" {
			b = append(b, "    <open-size>"...)
			b = strconv.AppendInt(b, rec.OpenSize, 10)
			b = append(b, "</open-size>\n"...)
		}
		if rec.DatabaseVersion != 0 {
			b = append(b, "    <database_version>"...)
			b = strconv.AppendInt(b, int64(rec.DatabaseVersion), 10)
			b = append(b, "</database_version>\n"...)
		}
		b = append(b, "  </data>\n"...)
	}
	return append(b, "</repomd>\n"...)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ParseRepomd parses repomd.xml.
func ParseRepomd(data []byte) (*Repomd, error) {
	var x struct {
		XMLName  xml.Name `xml:"repomd"`
		Revision string   `xml:"revision"`
		Data     []struct {
			Type     string `xml:"type,attr"`
			Checksum struct {
				Type  string `xml:"type,attr"`
				Value string `xml:",chardata"`
			} `xml:"checksum"`
			OpenChecksum struct {
				Type  string `xml:"type,attr"`
				Value string `xml:",chardata"`
			} `xml:"open-checksum"`
			Location struct {
				Href string `xml:"href,attr"`
			} `xml:"location"`
			Timestamp       int64  `xml:"timestamp"`
			Size            int64  `xml:"size"`
			OpenSize        *int64 `xml:"open-size"`
			DatabaseVersion int    `xml:"database_version"`
		} `xml:"data"`
	}
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&x); err != nil {
		return nil, fmt.Errorf("repomd.xml: %w", err)
	}
	r := &Repomd{Revision: x.Revision}
	for _, d := range x.Data {
		if d.Type == "" || d.Location.Href == "" {
			return nil, fmt.Errorf("repomd.xml: a <data> element without type or location")
		}
		rec := Record{
			Type: d.Type, Checksum: d.Checksum.Value, ChecksumType: d.Checksum.Type,
			OpenChecksum: d.OpenChecksum.Value, OpenChecksumType: d.OpenChecksum.Type,
			Location: d.Location.Href, Timestamp: d.Timestamp, Size: d.Size, OpenSize: -1,
			DatabaseVersion: d.DatabaseVersion,
		}
		if d.OpenSize != nil {
			rec.OpenSize = *d.OpenSize
		}
		r.Records = append(r.Records, rec)
	}
	return r, nil
}
