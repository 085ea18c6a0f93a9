package rpm

import (
	"slices"
	"strings"
	"testing"
)

func TestParseRelation(t *testing.T) {
	tests := []struct {
		in      string
		want    Relation
		wantErr string
	}{
		{in: "foo", want: Relation{Name: "foo"}},
		{in: "  foo  ", want: Relation{Name: "foo"}},
		{in: "foo >= 1.2", want: Relation{Name: "foo", Flags: SenseGreater | SenseEqual, Version: "1.2"}},
		{in: "foo <= 1:1.2-3", want: Relation{Name: "foo", Flags: SenseLess | SenseEqual, Version: "1:1.2-3"}},
		{in: "foo < 2", want: Relation{Name: "foo", Flags: SenseLess, Version: "2"}},
		{in: "foo > 2", want: Relation{Name: "foo", Flags: SenseGreater, Version: "2"}},
		{in: "foo == 2", want: Relation{Name: "foo", Flags: SenseEqual, Version: "2"}},
		{in: "libpq.so.5()(64bit)", want: Relation{Name: "libpq.so.5()(64bit)"}},
		{in: "python3dist(x) = 1", want: Relation{Name: "python3dist(x)", Flags: SenseEqual, Version: "1"}},
		{in: "/usr/bin/python3.11", want: Relation{Name: "/usr/bin/python3.11"}},
		{in: "foo = 1.0~rc1^git2", want: Relation{Name: "foo", Flags: SenseEqual, Version: "1.0~rc1^git2"}},
		{in: "(a or b)", want: Relation{Name: "(a or b)"}},
		{in: "(python3 >= 3.9 with python3 < 4)", want: Relation{Name: "(python3 >= 3.9 with python3 < 4)"}},
		{in: "", wantErr: "want \"name\""},
		{in: "foo >=", wantErr: "want \"name\""},
		{in: "foo ~> 1", wantErr: "unknown operator"},
		{in: "foo >= 1 2", wantErr: "want \"name\""},
		{in: "foo>=1", wantErr: "operator"},
		{in: "foo = 1-2-3", wantErr: "more than one '-'"},
		{in: "foo = x:1", wantErr: "epoch must be a number"},
		{in: "foo = 1,2", wantErr: "illegal character"},
		{in: "-foo", wantErr: "must start with"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRelation(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRelation(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRelation(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseRelation(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			// String must give back something ParseRelation reads the same way.
			again, err := ParseRelation(got.String())
			if err != nil || again != got {
				t.Fatalf("ParseRelation(%q.String() = %q) = %+v, %v", tt.in, got.String(), again, err)
			}
		})
	}
}

func TestRelationString(t *testing.T) {
	for _, tt := range []struct {
		r    Relation
		want string
	}{
		{Relation{Name: "a"}, "a"},
		{Relation{Name: "a", Flags: SenseLess | SenseEqual | SenseRPMLib, Version: "1"}, "a <= 1"},
		{Relation{Name: "a", Flags: SenseGreater, Version: "1"}, "a > 1"},
		{Relation{Name: "/bin/sh", Flags: SenseInterp | SenseScriptPre}, "/bin/sh"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestSortRelationsLikeRPM(t *testing.T) {
	in := []Relation{
		{Name: "python3", Flags: SenseGreater | SenseEqual, Version: "3.9"},
		{Name: "/bin/sh", Flags: SenseInterp | SenseScriptPost},
		{Name: "/bin/sh", Flags: SenseInterp | SensePostTrans},
		{Name: "python3", Flags: SenseGreater | SenseEqual, Version: "3.9"},
		{Name: "demo(x86-64)", Flags: SenseEqual, Version: "1-1"},
		{Name: "demo-api"},
		{Name: "demo", Flags: SenseEqual, Version: "1-1"},
	}
	got := sortRelations(in)
	want := []Relation{
		{Name: "/bin/sh", Flags: SenseInterp | SensePostTrans},
		{Name: "/bin/sh", Flags: SenseInterp | SenseScriptPost},
		{Name: "demo", Flags: SenseEqual, Version: "1-1"},
		{Name: "demo(x86-64)", Flags: SenseEqual, Version: "1-1"},
		{Name: "demo-api"},
		{Name: "python3", Flags: SenseGreater | SenseEqual, Version: "3.9"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sortRelations = %+v\nwant %+v", got, want)
	}
	if len(in) != 7 {
		t.Fatal("sortRelations modified its input")
	}
}
