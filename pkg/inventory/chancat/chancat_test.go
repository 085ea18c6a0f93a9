package chancat

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/pkg/channel"
	"github.com/rpmforge/rpmforge/pkg/inventory/inventorytest"
)

func TestCatalog(t *testing.T) {
	ctx := context.Background()
	s := inventorytest.New(t, t.TempDir())
	web := s.Channels["web"]
	root, err := channel.Open(t.TempDir(), channel.Options{AllowUnsigned: true, NoSync: true, User: "ci@build"})
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := filepath.Join(web, "webshop-2.0.0-1.noarch.rpm"), filepath.Join(web, "webshop-2.1.0-1.noarch.rpm")
	steps := []func() error{
		func() error { _, err := root.Add(ctx, "dev", []string{v1}, channel.AddOptions{}); return err },
		func() error {
			_, err := root.Promote(ctx, "dev", "prod", []string{"webshop"}, channel.PromoteOptions{})
			return err
		},
		func() error { _, err := root.Add(ctx, "dev", []string{v2}, channel.AddOptions{}); return err },
		func() error {
			_, err := root.Promote(ctx, "dev", "prod", []string{"webshop-2.1.0"}, channel.PromoteOptions{})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}

	cat, err := New(ctx, root, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cat.Channels(), ","); got != "dev,staging,prod" {
		t.Errorf("channels %s", got)
	}
	prod, err := cat.Packages("prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(prod) != 2 {
		t.Fatalf("prod has %d packages, want 2", len(prod))
	}
	for _, p := range prod {
		if p.Channel != "prod" || p.PromotedFrom != "dev" || p.PublishedAt.IsZero() || len(p.SHA256) != 64 || p.SHA256Header == "" {
			t.Errorf("%s: channel %q promoted from %q at %v, sha %q, header %q", p.NEVRA(), p.Channel, p.PromotedFrom, p.PublishedAt, p.SHA256, p.SHA256Header)
		}
		django := ""
		for _, c := range p.Components {
			if strings.EqualFold(c.Name, "django") {
				django = c.Version
			}
		}
		want := map[string]string{"2.0.0": "3.2.25", "2.1.0": "4.2.16"}[p.Version]
		if django != want {
			t.Errorf("%s: django %q, want %q (from the embedded SBOM)", p.NEVRA(), django, want)
		}
	}
	dev, _ := cat.Packages("dev")
	for _, p := range dev {
		if p.PromotedFrom != "" {
			t.Errorf("dev %s: promoted from %q, want added directly", p.NEVRA(), p.PromotedFrom)
		}
	}

	// The baseline of prod at its first revision: only 2.0.0.
	past, err := New(ctx, root, "prod", 1)
	if err != nil {
		t.Fatal(err)
	}
	old, err := past.Packages("prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != 1 || old[0].Version != "2.0.0" {
		t.Errorf("prod at revision 1: %d packages %v", len(old), old)
	}
	if _, err := New(ctx, root, "", 1); err == nil {
		t.Error("a revision without a channel: got no error")
	}
	if _, err := New(ctx, root, "qa", 0); err == nil || !strings.Contains(err.Error(), `no channel "qa"`) {
		t.Errorf("unknown channel: %v", err)
	}
}
