package backfill

import (
	"encoding/json"
	"fmt"
	"time"
)

// Job states, as Progress reports them.
const (
	StateQueued  = "queued"
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// Methods a job uses once chosen (policy.MethodAuto picks one of them per account).
const (
	MethodDeliveryJob = "delivery-job"
	MethodLookup      = "lookup"
)

// Job is one account's backfill. Every entry of the account's job stream is a whole Job, so the
// newest entry alone says where the job stands; entries are only ever appended, by whoever holds
// the account's lease.
type Job struct {
	AccountID string `json:"accountId"`
	ID        string `json:"id"`
	// Method is what the policy asked for (auto, delivery-job or lookup); Using is the method
	// at work once chosen (auto falls back from delivery-job to lookup).
	Method string `json:"method"`
	Using  string `json:"using,omitempty"`
	State  string `json:"state"`

	// WindowFrom and WindowTo bound the events to copy: [now - days, coveredFrom), where
	// coveredFrom is when the organization trail began covering the account. Coverage says how
	// WindowTo was decided.
	WindowFrom time.Time `json:"windowFrom"`
	WindowTo   time.Time `json:"windowTo"`
	Coverage   string    `json:"coverage"`

	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Attempt counts how often the job was queued: 1, plus one per retry of a failed job.
	Attempt int    `json:"attempt"`
	Error   string `json:"error,omitempty"`
	// Failures counts consecutive steps that ended in an error; a job fails after maxFailures.
	Failures int `json:"failures,omitempty"`

	EventsCopied int64 `json:"eventsCopied"`
	Pages        int64 `json:"pages"`
	// ActiveTime is the time steps spent on the job, for the ETA.
	ActiveTime time.Duration `json:"activeTimeNs"`
	Steps      int           `json:"steps"`

	Lookup   *LookupCursor  `json:"lookup,omitempty"`
	Delivery *DeliveryState `json:"delivery,omitempty"`

	// DedupeAgainst names the Logstore of the backfill project into which a failed data backfill
	// job delivered part of the window (the backfill trail's actiontrail_<trail>), and
	// DeliveredBefore how many of the account's events that job had delivered there. A new job
	// would deliver them again, so none is created once it is set: method auto copies the window
	// with lookup, writing only the events in neither that Logstore nor the backfill Logstore, and
	// counts both; method delivery-job fails.
	DedupeAgainst   string `json:"dedupeAgainst,omitempty"`
	DeliveredBefore int64  `json:"deliveredBefore,omitempty"`

	// Parked is set by a step that ended cleanly: nothing was written after this entry. An
	// entry without it may be followed by a page written to the Logstore whose checkpoint was
	// never appended (a crash), so the next step checks the Logstore before writing.
	Parked bool `json:"parked,omitempty"`
}

// LookupCursor is the lookup method's checkpoint. The window is walked oldest day first (so
// the events about to pass ActionTrail's 90 days go out first), each slice newest first, as
// LookupEvents pages.
type LookupCursor struct {
	SliceStart time.Time `json:"sliceStart"`
	// QueryEnd is the inclusive EndTime of the slice's query; later pages repeat it.
	QueryEnd  time.Time `json:"queryEnd,omitzero"`
	NextToken string    `json:"nextToken,omitempty"`
	// Oldest is the oldest event time copied in the current slice: where a query restarts when
	// its NextToken is refused.
	Oldest time.Time `json:"oldest,omitzero"`
	// Uncertain: what remains of the slice may already be partly in the Logstore, so every page
	// is checked against it before writing.
	Uncertain bool `json:"uncertain,omitempty"`
}

// DeliveryState is the delivery-job method's checkpoint.
type DeliveryState struct {
	Phase string `json:"phase"` // trail | job | poll | cleanup
	Trail string `json:"trail"`
	// Creating is the write-ahead intent of CreateDeliveryHistoryJob: set before the call, so a
	// step that died before recording the job id adopts the job instead of starting a second.
	Creating  time.Time `json:"creating,omitzero"`
	JobID     int64     `json:"jobId,omitempty"`
	JobStatus int       `json:"jobStatus,omitempty"`
	JobStart  time.Time `json:"jobStart,omitzero"`
	JobEnd    time.Time `json:"jobEnd,omitzero"`
	Attempts  int       `json:"attempts,omitempty"` // jobs created
	RetryAt   time.Time `json:"retryAt,omitzero"`
	Fallback  string    `json:"fallback,omitempty"` // why auto fell back to lookup
}

func (j *Job) active() bool { return j.State == StateQueued || j.State == StateRunning }

func (j *Job) method() string {
	if j.Using != "" {
		return j.Using
	}
	return j.Method
}

// coveredUntil is the end of the part of the window known to be complete.
func (j *Job) coveredUntil() time.Time {
	switch {
	case j.State == StateDone:
		return j.WindowTo
	case j.Using == MethodLookup && j.Lookup != nil:
		return j.Lookup.SliceStart
	}
	return j.WindowFrom
}

// fraction is the share of the window done, from 0 to 1.
func (j *Job) fraction(slice time.Duration) float64 {
	if j.State == StateDone {
		return 1
	}
	span := j.WindowTo.Sub(j.WindowFrom)
	if span <= 0 || j.Using != MethodLookup || j.Lookup == nil {
		return 0
	}
	done := j.Lookup.SliceStart.Sub(j.WindowFrom)
	if c := j.Lookup; !c.Oldest.IsZero() {
		// The current slice is walked newest first: [Oldest, sliceEnd) is done.
		sliceEnd := earliest(c.SliceStart.Add(slice), j.WindowTo)
		done += max(0, sliceEnd.Sub(c.Oldest))
	}
	return min(1, max(0, float64(done)/float64(span)))
}

// eta extrapolates the time spent so far over what remains; 0 when it cannot tell yet.
func (j *Job) eta(slice time.Duration) time.Duration {
	f := j.fraction(slice)
	if f <= 0 || f >= 1 || j.ActiveTime <= 0 {
		return 0
	}
	return time.Duration(float64(j.ActiveTime) * (1 - f) / f).Round(time.Millisecond)
}

// Progress is one account's backfill as the API and the status page show it.
type Progress struct {
	AccountID    string        `json:"accountId"`
	Method       string        `json:"method"`
	State        string        `json:"state"`
	EventsCopied int64         `json:"eventsCopied"`
	WindowFrom   time.Time     `json:"windowFrom"`
	WindowTo     time.Time     `json:"windowTo"`
	CoveredUntil time.Time     `json:"coveredUntil"`
	ETA          time.Duration `json:"eta"`
	Error        string        `json:"error,omitempty"`
	UpdatedAt    time.Time     `json:"updatedAt"`
}

// progressJSON is Progress on the wire: the ETA both readable ("1h2m0s") and in seconds, as a
// bare time.Duration would be nanoseconds.
type progressJSON struct {
	AccountID    string    `json:"accountId"`
	Method       string    `json:"method"`
	State        string    `json:"state"`
	EventsCopied int64     `json:"eventsCopied"`
	WindowFrom   time.Time `json:"windowFrom"`
	WindowTo     time.Time `json:"windowTo"`
	CoveredUntil time.Time `json:"coveredUntil"`
	ETA          string    `json:"eta"`
	ETASeconds   int64     `json:"etaSeconds"`
	Error        string    `json:"error,omitempty"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// MarshalJSON writes eta as a duration string and etaSeconds as a number.
func (p Progress) MarshalJSON() ([]byte, error) {
	return json.Marshal(progressJSON{
		AccountID: p.AccountID, Method: p.Method, State: p.State, EventsCopied: p.EventsCopied,
		WindowFrom: p.WindowFrom, WindowTo: p.WindowTo, CoveredUntil: p.CoveredUntil,
		ETA: p.ETA.String(), ETASeconds: int64(p.ETA / time.Second), Error: p.Error, UpdatedAt: p.UpdatedAt,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Progress) UnmarshalJSON(data []byte) error {
	var w progressJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	eta := time.Duration(w.ETASeconds) * time.Second
	if w.ETA != "" {
		d, err := time.ParseDuration(w.ETA)
		if err != nil {
			return fmt.Errorf("backfill progress: eta %q is not a duration such as 1h2m3s", w.ETA)
		}
		eta = d
	}
	*p = Progress{
		AccountID: w.AccountID, Method: w.Method, State: w.State, EventsCopied: w.EventsCopied,
		WindowFrom: w.WindowFrom, WindowTo: w.WindowTo, CoveredUntil: w.CoveredUntil,
		ETA: eta, Error: w.Error, UpdatedAt: w.UpdatedAt,
	}
	return nil
}

// progress summarises a job.
func (j *Job) progress(slice time.Duration) Progress {
	p := Progress{
		AccountID: j.AccountID, Method: j.method(), State: j.State, EventsCopied: j.EventsCopied,
		WindowFrom: j.WindowFrom, WindowTo: j.WindowTo, CoveredUntil: j.coveredUntil(),
		ETA: j.eta(slice), Error: j.Error, UpdatedAt: j.UpdatedAt,
	}
	if d := j.Delivery; j.Using == MethodDeliveryJob && d != nil && !d.JobStart.IsZero() {
		// A delivery job copies the window ActionTrail chose, not ours.
		p.WindowFrom, p.WindowTo = d.JobStart, d.JobEnd
		if j.State == StateDone {
			p.CoveredUntil = d.JobEnd
		} else {
			p.CoveredUntil = d.JobStart
		}
	}
	return p
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
