package rpmdb

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/rpmforge/rpmforge/pkg/inventory"
	"github.com/rpmforge/rpmforge/pkg/rpmhdr"
)

// An installed header blob is il, dl, the index and the data, without the
// magic; its region (if any) need not span it: rpm adds tags on install.
var installed = rpmhdr.Options{NoMagic: true}

// header is an installed header blob, verified.
type header struct{ *rpmhdr.Header }

func parseHeader(blob []byte) (*header, error) {
	h, err := rpmhdr.Parse(blob, installed)
	if err != nil {
		return nil, fmt.Errorf("header blob: %w", err)
	}
	return &header{h}, nil
}

// str returns the first string of a string tag ("" when absent).
func (h *header) str(tag uint32) (string, error) {
	e, ok := h.Find(tag)
	if !ok {
		return "", nil
	}
	switch e.Type {
	case rpmhdr.TypeString, rpmhdr.TypeStringArray, rpmhdr.TypeI18NString:
		return h.String(tag), nil
	}
	return "", fmt.Errorf("tag %d has type %d, not a string", tag, e.Type)
}

// int returns the first value of an integer tag; ok is false when absent.
func (h *header) int(tag uint32) (int64, bool, error) {
	e, ok := h.Find(tag)
	if !ok {
		return 0, false, nil
	}
	switch e.Type {
	case rpmhdr.TypeInt16, rpmhdr.TypeInt32, rpmhdr.TypeInt64:
		v, ok := h.Uint(tag)
		return int64(v), ok, nil
	}
	return 0, false, fmt.Errorf("tag %d has type %d, not an integer", tag, e.Type)
}

// bin returns a binary tag's bytes (nil when absent).
func (h *header) bin(tag uint32) ([]byte, error) {
	e, ok := h.Find(tag)
	if !ok {
		return nil, nil
	}
	if e.Type != rpmhdr.TypeBin {
		return nil, fmt.Errorf("tag %d has type %d, not binary", tag, e.Type)
	}
	return h.Bytes(e), nil
}

// Decode reads an installed package header blob as stored in rpmdb.
func Decode(blob []byte) (inventory.Installed, error) {
	h, err := parseHeader(blob)
	if err != nil {
		return inventory.Installed{}, err
	}
	var p inventory.Installed
	strs := []struct {
		tag uint32
		dst *string
	}{{rpmhdr.TagName, &p.Name}, {rpmhdr.TagVersion, &p.Version}, {rpmhdr.TagRelease, &p.Release}, {rpmhdr.TagArch, &p.Arch},
		{rpmhdr.TagVendor, &p.Vendor}, {rpmhdr.TagLicense, &p.License}, {rpmhdr.TagSourceRPM, &p.SourceRPM}, {rpmhdr.TagVCS, &p.VCS},
		{rpmhdr.TagSHA256Header, &p.SHA256Header}}
	for _, s := range strs {
		if *s.dst, err = h.str(s.tag); err != nil {
			return inventory.Installed{}, err
		}
	}
	if p.Name == "" {
		return inventory.Installed{}, errors.New("header has no NAME")
	}
	if e, ok, err := h.int(rpmhdr.TagEpoch); err != nil {
		return inventory.Installed{}, err
	} else if ok {
		p.Epoch = int(e)
	}
	for _, t := range []struct {
		tag uint32
		dst *time.Time
	}{{rpmhdr.TagBuildTime, &p.BuildTime}, {rpmhdr.TagInstallTime, &p.InstallTime}} {
		v, ok, err := h.int(t.tag)
		if err != nil {
			return inventory.Installed{}, err
		}
		if ok {
			*t.dst = time.Unix(v, 0).UTC()
		}
	}
	md5, err := h.bin(rpmhdr.TagSigMD5)
	if err != nil {
		return inventory.Installed{}, err
	}
	p.SIGMD5 = hex.EncodeToString(md5)
	for _, tag := range []uint32{rpmhdr.TagRSAHeader, rpmhdr.TagDSAHeader, rpmhdr.TagSigPGP, rpmhdr.TagSigGPG} {
		pkt, err := h.bin(tag)
		if err != nil {
			return inventory.Installed{}, err
		}
		if len(pkt) == 0 {
			continue
		}
		sig, err := inventory.ParseSignature(pkt)
		if err != nil {
			return inventory.Installed{}, fmt.Errorf("%s: signature tag %d: %w", p.Name, tag, err)
		}
		p.SigningKey, p.Signature = sig.KeyID, sig.String()
		break
	}
	return p, nil
}
