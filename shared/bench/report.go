package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// Target verdicts.
const (
	Pass = "PASS"
	Fail = "FAIL"
	NA   = "n/a"
)

// Target is one goal and how a case fared against it.
type Target struct {
	Name   string `json:"name"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	Status string `json:"status"` // PASS, FAIL or n/a
	Note   string `json:"note,omitempty"`
}

// Result is one measured case.
type Result struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
	Members int    `json:"members,omitempty"`

	WallSeconds float64 `json:"wallSeconds,omitempty"`
	// CPUSeconds and PeakRSSMB are the function process's, when the case ran in one.
	CPUSeconds float64 `json:"cpuSeconds,omitempty"`
	PeakRSSMB  float64 `json:"peakRssMB,omitempty"`

	Calls         int64            `json:"calls,omitempty"`
	CallsByAction map[string]int64 `json:"callsByAction,omitempty"` // "Product:Action"
	// WriteCalls are every write; StateWrites those that are auditwarden's own bookkeeping
	// (objects in its state bucket); CredentialCalls the AssumeRole calls ActionTrail records as
	// writes; ConfigWrites the rest: changes to the audited organization.
	WriteCalls      int64 `json:"writeCalls"`
	StateWrites     int64 `json:"stateWrites"`
	CredentialCalls int64 `json:"credentialCalls,omitempty"`
	ConfigWrites    int64 `json:"configWrites"`
	Throttled       int64 `json:"throttled"`
	Errors          int64 `json:"errors"`
	// ThrottledByAction and ErrorsByAction name the actions behind Throttled and Errors.
	ThrottledByAction map[string]int64 `json:"throttledByAction,omitempty"`
	ErrorsByAction    map[string]int64 `json:"errorsByAction,omitempty"`

	Floor *Floor  `json:"floor,omitempty"`
	Ratio float64 `json:"ratio,omitempty"` // wall / floor

	Metrics map[string]float64 `json:"metrics,omitempty"`
	Targets []Target           `json:"targets,omitempty"`
	Notes   []string           `json:"notes,omitempty"`
	Error   string             `json:"error,omitempty"`
}

// Report is everything one bench run measured.
type Report struct {
	StartedAt   time.Time   `json:"startedAt"`
	TookSeconds float64     `json:"tookSeconds"`
	Host        HostInfo    `json:"host"`
	Settings    Settings    `json:"settings"`
	Limits      []RateLimit `json:"rateLimits"`
	Results     []*Result   `json:"results"`
}

// HostInfo describes the machine the figures come from.
type HostInfo struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"goVersion"`
}

// Settings are the options that shaped the run.
type Settings struct {
	LatencyMs int    `json:"latencyMs"`
	Sizes     []int  `json:"sizes"`
	Events    int    `json:"events"`
	Quick     bool   `json:"quick"`
	Only      string `json:"only,omitempty"`
}

func (r *Result) metric(name string, v float64) {
	if r.Metrics == nil {
		r.Metrics = map[string]float64{}
	}
	r.Metrics[name] = v
}

func (r *Result) target(name, want, got string, ok bool) {
	st := Fail
	if ok {
		st = Pass
	}
	r.Targets = append(r.Targets, Target{Name: name, Want: want, Got: got, Status: st})
}

func (r *Result) targetNA(name, want, got, note string) {
	r.Targets = append(r.Targets, Target{Name: name, Want: want, Got: got, Status: NA, Note: note})
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// stateObjectWrites are the write actions auditwarden makes only on objects of its state bucket.
var stateObjectWrites = map[string]bool{"PutObject": true, "DeleteObject": true, "DeleteMultipleObjects": true, "CopyObject": true, "AppendObject": true}

// absorbStats fills the call counters from localcloud's stats rows.
func (r *Result) absorbStats(rows []core.StatRow) {
	r.CallsByAction = map[string]int64{}
	for _, row := range rows {
		r.Calls += row.Calls
		r.CallsByAction[row.Product+":"+row.Action] += row.Calls
		r.Throttled += row.Throttled
		r.Errors += row.Errors
		if row.Throttled > 0 {
			if r.ThrottledByAction == nil {
				r.ThrottledByAction = map[string]int64{}
			}
			r.ThrottledByAction[row.Product+":"+row.Action] += row.Throttled
		}
		if row.Errors > 0 {
			if r.ErrorsByAction == nil {
				r.ErrorsByAction = map[string]int64{}
			}
			r.ErrorsByAction[row.Product+":"+row.Action] += row.Errors
		}
		if row.Write {
			r.WriteCalls += row.Calls
			switch {
			case row.Product == "oss" && stateObjectWrites[row.Action]:
				r.StateWrites += row.Calls
			case row.Product == "Sts" && row.Action == "AssumeRole":
				// ActionTrail records it as a write, but it changes nothing: credentials to act in a member.
				r.CredentialCalls += row.Calls
			}
		}
	}
	r.ConfigWrites = r.WriteCalls - r.StateWrites - r.CredentialCalls
}

// discount removes calls the bench itself made (the changes it drives) from the figures.
func (r *Result) discount(action string, calls int64, write bool) {
	r.Calls -= calls
	r.CallsByAction[action] -= calls
	if r.CallsByAction[action] <= 0 {
		delete(r.CallsByAction, action)
	}
	if write {
		r.WriteCalls -= calls
		r.ConfigWrites -= calls
	}
}

// Write prints the tables and stores the JSON report at path (directories are created).
func (rep *Report) Write(out io.Writer, path string) error {
	rep.Print(out)
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// Print writes the measurements and the targets as aligned tables.
func (rep *Report) Print(out io.Writer) {
	fmt.Fprintf(out, "\nauditwarden bench: %s/%s, %d CPUs, %s; localcloud latency %d ms per call\n",
		rep.Host.GOOS, rep.Host.GOARCH, rep.Host.CPUs, rep.Host.GoVersion, rep.Settings.LatencyMs)
	fmt.Fprintln(out, "\nMeasurements")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "case\twall\tcalls\tconfig writes\tstate writes\tthrottled\tpeak RSS\tfloor\twall/floor\tbottleneck")
	for _, r := range rep.Results {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\tERROR: %s\t\t\t\t\t\t\t\t\n", r.Name, firstLine(r.Error))
			continue
		}
		floor, ratio, bottleneck := "", "", ""
		if r.Floor != nil {
			floor = fmt.Sprintf("%.2f s", r.Floor.Seconds)
			ratio = fmt.Sprintf("%.2f", r.Ratio)
			bottleneck = r.Floor.Bottleneck
		}
		rss := ""
		if r.PeakRSSMB > 0 {
			rss = fmt.Sprintf("%.0f MB", r.PeakRSSMB)
		}
		wall := ""
		switch {
		case r.WallSeconds >= 0.1:
			wall = fmt.Sprintf("%.2f s", r.WallSeconds)
		case r.WallSeconds > 0:
			wall = fmt.Sprintf("%.1f ms", r.WallSeconds*1000)
		}
		if r.Calls == 0 && r.Floor == nil { // no API calls (cold starts): only the time means anything
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t%s\t\t\t\n", r.Name, wall, rss)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", r.Name, wall, r.Calls, r.ConfigWrites, r.StateWrites, r.Throttled, rss, floor, ratio, bottleneck)
	}
	tw.Flush()

	for _, r := range rep.Results {
		if len(r.Metrics) == 0 && len(r.CallsByAction) == 0 && len(r.Notes) == 0 {
			continue
		}
		fmt.Fprintf(out, "\n%s: %s\n", r.Name, r.Summary)
		if len(r.Metrics) > 0 {
			fmt.Fprintf(out, "  %s\n", formatMetrics(r.Metrics))
		}
		if len(r.CallsByAction) > 0 {
			fmt.Fprintf(out, "  calls: %s\n", formatCalls(r.CallsByAction, 12))
		}
		if len(r.ThrottledByAction) > 0 {
			fmt.Fprintf(out, "  throttled: %s\n", formatCalls(r.ThrottledByAction, 12))
		}
		if len(r.ErrorsByAction) > 0 {
			fmt.Fprintf(out, "  errors (incl. throttled and expected not-found answers): %s\n", formatCalls(r.ErrorsByAction, 12))
		}
		for _, n := range r.Notes {
			fmt.Fprintf(out, "  note: %s\n", n)
		}
	}

	fmt.Fprintln(out, "\nTargets")
	tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "case\ttarget\twant\tgot\tresult")
	pass, fail := 0, 0
	for _, r := range rep.Results {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\tcase ran\tno error\t%s\t%s\n", r.Name, firstLine(r.Error), Fail)
			fail++
			continue
		}
		for _, t := range r.Targets {
			got := t.Got
			if t.Note != "" {
				got += " (" + t.Note + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, t.Name, t.Want, got, t.Status)
			switch t.Status {
			case Pass:
				pass++
			case Fail:
				fail++
			}
		}
	}
	tw.Flush()
	verdict := "all targets met"
	if fail > 0 {
		verdict = fmt.Sprintf("FAIL: %d target(s) missed", fail)
	}
	fmt.Fprintf(out, "\n%d passed, %d failed: %s (took %.0f s)\n", pass, fail, verdict, rep.TookSeconds)
}

// Failed counts the missed targets and the cases that could not run.
func (rep *Report) Failed() int {
	n := 0
	for _, r := range rep.Results {
		if r.Error != "" {
			n++
		}
		for _, t := range r.Targets {
			if t.Status == Fail {
				n++
			}
		}
	}
	return n
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func formatMetrics(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%s", k, trimFloat(m[k]))
	}
	return strings.Join(parts, " ")
}

func trimFloat(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

// formatCalls lists the busiest actions first, at most n of them.
func formatCalls(m map[string]int64, n int) string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].v != all[j].v {
			return all[i].v > all[j].v
		}
		return all[i].k < all[j].k
	})
	var parts []string
	for i, e := range all {
		if i == n {
			parts = append(parts, fmt.Sprintf("... %d more", len(all)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.v))
	}
	return strings.Join(parts, ", ")
}
