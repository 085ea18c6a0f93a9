package checkinstall

import (
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// JUnit XML as Jenkins' junit step reads it.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as a JUnit XML document: one testsuite named
// "check-install.<channel>.<name>", one testcase per step.
func (r *Report) WriteJUnit(w io.Writer) error {
	class := "check-install." + r.Channel + "." + r.Name
	s := junitSuite{Name: class, Time: seconds(r.Duration), Timestamp: r.Start.UTC().Format("2006-01-02T15:04:05")}
	for _, c := range r.Cases {
		jc := junitCase{Name: c.Name, ClassName: class, Time: seconds(c.Duration), SystemOut: c.Output}
		switch {
		case c.Skipped != "":
			jc.Skipped = &junitSkipped{Message: c.Skipped}
			s.Skipped++
		case c.Failure != "":
			jc.Failure = &junitFailure{Message: c.Failure, Type: "check-install", Text: c.Failure + "\n" + c.Output}
			s.Failures++
		}
		s.Tests++
		s.Cases = append(s.Cases, jc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
