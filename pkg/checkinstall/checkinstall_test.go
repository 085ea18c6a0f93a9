package checkinstall

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestWriteJUnit(t *testing.T) {
	rep := &Report{Name: "tiny", Channel: "dev", Candidate: "tiny-2-1.noarch", Start: time.Unix(0, 0), Duration: 3 * time.Second,
		Cases: []Case{
			{Name: StepInstall, Duration: time.Second, Output: "ok"},
			{Name: StepUpgrade, Duration: 1500 * time.Millisecond, Failure: "scriptlet failed: # post: 2 (exit 1)", Output: "dnf said <things> & more"},
			{Name: StepSmoke, Skipped: "no smoke command"},
		}}
	var b bytes.Buffer
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suite struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Time     string `xml:"time,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Class   string `xml:"classname,attr"`
				Time    string `xml:"time,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	s := doc.Suite
	if s.Name != "check-install.dev.tiny" || s.Tests != 3 || s.Failures != 1 || s.Skipped != 1 || s.Time != "3.000" {
		t.Errorf("suite: %+v", s)
	}
	if c := s.Cases[1]; c.Failure == nil || c.Time != "1.500" || !strings.Contains(c.Failure.Text, "<things> & more") ||
		c.Failure.Message != "scriptlet failed: # post: 2 (exit 1)" || c.Class != "check-install.dev.tiny" {
		t.Errorf("failed case: %+v", c)
	}
	if s.Cases[0].Failure != nil || s.Cases[0].Skipped != nil || s.Cases[2].Skipped == nil {
		t.Errorf("cases: %+v", s.Cases)
	}
	if len(rep.Failed()) != 1 || rep.Failed()[0].Name != StepUpgrade {
		t.Errorf("Failed: %+v", rep.Failed())
	}
}

func TestUnitUser(t *testing.T) {
	for unit, want := range map[string]string{
		"[Unit]\nUser=nope\n[Service]\nExecStart=/x\nUser = mysite\n":      "mysite",
		"[Service]\nExecStart=/x\n":                                        "",
		"[Service]\nUser=a\n[Install]\nUser=b\nWantedBy=multi-user.target": "a",
	} {
		if got := unitUser(unit); got != want {
			t.Errorf("unitUser(%q) = %q, want %q", unit, got, want)
		}
	}
}
