package httpapi

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/auditwarden/auditwarden/shared/backfill"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

var pageTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"status": func(m reconcile.MemberReport, c string) reconcile.ControlStatus {
		return m.Controls[reconcile.Control(c)]
	},
	// backfillCell shows a member's backfill job in the coverage table: done is ok, a job in
	// progress is pending with its count, a failed one is failed; no job keeps the report's status.
	"backfillCell": func(jobs map[string]backfill.Progress, m reconcile.MemberReport) reconcile.ControlStatus {
		p, ok := jobs[m.AccountID]
		if !ok {
			return m.Controls[reconcile.ControlBackfill]
		}
		detail := fmt.Sprintf("%s: %d events copied", p.Method, p.EventsCopied)
		switch p.State {
		case "done":
			return reconcile.ControlStatus{Status: reconcile.StatusOK, Detail: detail}
		case "failed":
			return reconcile.ControlStatus{Status: reconcile.StatusFailed, Detail: p.Error}
		}
		return reconcile.ControlStatus{Status: reconcile.StatusPending, Detail: p.State + ", " + detail}
	},
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return time.Since(t).Round(time.Second).String() + " ago"
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>auditwarden status</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2330}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;margin-top:.5rem} td,th{border:1px solid #d7dbe3;padding:.25rem .6rem;text-align:left;font-size:.85rem}
th{background:#f3f5f9} .ok,.fixed{background:#e5f6ea} .drift,.failed,.unknown{background:#fde8e8}
.pending{background:#fff6dd} .excluded,.n\/a{background:#f3f3f3;color:#777}
.summary span{margin-right:1.5rem}
</style></head><body>
<h1>auditwarden: audit logging coverage</h1>
{{if .Report}}{{with .Report}}
<p class="summary"><span>last {{.Mode}} run {{ago .FinishedAt}}</span>
<span id="members">{{.Summary.Members}} members</span><span id="compliant">{{.Summary.Compliant}} compliant</span>
<span>{{.Summary.Pending}} pending</span><span>{{.Summary.Applied}} fixed</span><span>{{.Summary.Failed}} failed</span></p>
<h2>Organization</h2>
<table id="organization"><tr><th>control</th><th>status</th><th>detail</th></tr>
{{range $c, $s := .Organization}}<tr><td>{{$c}}</td><td class="{{$s.Status}}">{{$s.Status}}</td><td>{{$s.Detail}}</td></tr>{{end}}
</table>
<h2>Members × controls</h2>
<table id="coverage"><thead><tr><th>member</th><th>name</th><th>state</th>{{range $.Controls}}<th>{{.}}</th>{{end}}<th>backfill</th></tr></thead><tbody>
{{range .Members}}<tr data-account="{{.AccountID}}"><td>{{.AccountID}}</td><td>{{.DisplayName}}</td><td>{{.Status}}</td>
{{$m := .}}{{range $c := $.Controls}}{{$s := status $m $c}}<td class="{{$s.Status}}" title="{{$s.Detail}}">{{$s.Status}}</td>{{end}}{{$b := backfillCell $.Jobs $m}}<td class="{{$b.Status}}" title="{{$b.Detail}}">{{$b.Status}}</td></tr>
{{end}}</tbody></table>
{{if or .Findings .Problems}}<h2>Drift left for people</h2><ul id="findings">
{{range .Findings}}<li>{{.Control}} {{.Resource}}: {{.Message}}</li>{{end}}
{{range .Problems}}<li>could not observe {{.Resource}}: {{.Error}}</li>{{end}}</ul>{{end}}
{{if .Results}}<h2>Changes made by the last run</h2><table id="changes"><tr><th>action</th><th>resource</th><th>outcome</th><th>drift</th></tr>
{{range .Results}}<tr><td>{{.Kind}}</td><td>{{.Resource}}</td><td class="{{if eq .Outcome "applied"}}fixed{{else}}failed{{end}}">{{.Outcome}}</td><td>{{.Drift}} {{.Error}}</td></tr>{{end}}</table>{{end}}
{{end}}{{else}}<p id="empty">No report yet: POST /v1/setup, or wait for the reconcile timer.</p>{{end}}
<h2>Backfill</h2>
{{if .Backfill}}<table id="backfill"><tr><th>account</th><th>method</th><th>state</th><th>events copied</th><th>window</th><th>covered until</th><th>eta</th></tr>
{{range .Backfill}}<tr><td>{{.AccountID}}</td><td>{{.Method}}</td><td>{{.State}}</td><td>{{.EventsCopied}}</td><td>{{.WindowFrom}} → {{.WindowTo}}</td><td>{{.CoveredUntil}}</td><td>{{.ETA}}</td></tr>{{end}}
</table>{{else}}<p>No backfill jobs.</p>{{end}}
{{if .BackfillNext}}<p id="backfill-more">The first {{len .Backfill}} jobs are shown; GET /v1/backfill?after={{.BackfillNext}} lists the rest.</p>{{end}}
{{if .BackfillError}}<p class="failed">backfill status unavailable: {{.BackfillError}}</p>{{end}}
</body></html>`))

type pageData struct {
	Report        *reconcile.Report
	Controls      []string
	Backfill      []backfill.Progress
	Jobs          map[string]backfill.Progress
	BackfillError string
	BackfillNext  string // the account after which more jobs are listed, "" when all are shown
}

// pageJobs is how many backfill jobs the status page reads.
const pageJobs = 1000

func (a *api) statusPage(w http.ResponseWriter, r *http.Request) {
	rep, ok, err := a.svc.Status(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	data := pageData{Controls: []string{"trail", "logaudit", "retention", "archive", "memberTrail"}, Jobs: map[string]backfill.Progress{}}
	if ok {
		data.Report = rep
	}
	// The first page of jobs only: reading a job costs two state-bucket calls, and the page must
	// answer quickly for thousands of members; the rest is one GET /v1/backfill?after= away.
	if bf, next, err := a.svc.BackfillStatus(r.Context(), "", pageJobs); err != nil {
		data.BackfillError = clipErr(err)
	} else {
		data.Backfill, data.BackfillNext = bf, next
		for _, p := range bf {
			data.Jobs[p.AccountID] = p
		}
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}
