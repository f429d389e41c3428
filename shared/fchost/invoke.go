package fchost

import (
	"context"
	"fmt"
	"time"
)

// Async task states (the names FC 3.0 uses for async tasks, where they exist).
const (
	TaskEnqueued  = "Enqueued"
	TaskRunning   = "Running"
	TaskRetrying  = "Retrying"
	TaskSucceeded = "Succeeded"
	TaskFailed    = "Failed"
	TaskExpired   = "Expired" // older than maxAsyncEventAgeInSeconds: dropped without running again
	TaskStopped   = "Stopped" // the host stopped first
)

// maxTasks bounds the finished async tasks kept for AsyncStatus.
const maxTasks = 10000

// AsyncTask is the state of one asynchronous invocation and its retries.
type AsyncTask struct {
	RequestID  string    `json:"requestId"`
	Function   string    `json:"function"`
	Source     string    `json:"source"`
	Trigger    string    `json:"trigger,omitempty"`
	Status     string    `json:"status"`
	Attempts   int       `json:"attempts"`   // invocations made so far
	RetryCount int       `json:"retryCount"` // x-fc-retry-count of the latest attempt
	Enqueued   time.Time `json:"enqueued"`
	Started    time.Time `json:"started,omitzero"`
	Finished   time.Time `json:"finished,omitzero"`
	Result     []byte    `json:"-"`
	Error      string    `json:"error,omitempty"`
}

func (t *AsyncTask) done() bool {
	switch t.Status {
	case TaskSucceeded, TaskFailed, TaskExpired, TaskStopped:
		return true
	}
	return false
}

func (h *Host) lookup(name string) (*function, error) {
	f, ok := h.funcs[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchFunction, name)
	}
	return f, nil
}

// Invoke runs a function synchronously and returns its result. A failed invocation returns a
// *FunctionError (errors.Is(err, ErrTimeout) and the like tell the kind); ctx bounds the wait.
func (h *Host) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	f, err := h.lookup(function)
	if err != nil {
		return nil, err
	}
	_, res, err := h.run(ctx, f.newInvocation(kindInvoke, payload, SourceInvoke, ""))
	return res, err
}

// run queues an invocation with fresh credentials and waits for it.
func (h *Host) run(ctx context.Context, inv *invocation) (string, []byte, error) {
	f := inv.fn
	if len(inv.payload) > maxSyncPayload {
		err := f.fail(inv, KindHandled, "InvalidArgument", fmt.Sprintf("the payload exceeds %d bytes", maxSyncPayload))
		f.finish(inv, nil, err)
		return inv.id, nil, err
	}
	creds, err := h.creds.get(ctx, f.spec.Role)
	if err != nil {
		err = fmt.Errorf("%w %s: %v", ErrCredentials, f.spec.Role, err)
		f.finish(inv, nil, err)
		return inv.id, nil, err
	}
	inv.creds = creds
	f.enqueue(inv)
	select {
	case <-inv.done:
		return inv.id, inv.result, inv.err
	case <-ctx.Done():
		f.cancel(inv, ctx.Err())
		return inv.id, nil, ctx.Err()
	}
}

// InvokeAsync queues an asynchronous invocation and returns its request id at once. A failed run
// is retried up to the function's maxAsyncRetryAttempts with backoff (x-fc-retry-count counts
// them); an event older than maxAsyncEventAgeInSeconds is dropped. AsyncStatus follows it.
func (h *Host) InvokeAsync(ctx context.Context, function string, payload []byte) (string, error) {
	f, err := h.lookup(function)
	if err != nil {
		return "", err
	}
	return h.invokeAsync(ctx, f, payload, SourceAsync, "")
}

func (h *Host) invokeAsync(_ context.Context, f *function, payload []byte, source, trigger string) (string, error) {
	if len(payload) > maxAsyncPayload {
		return "", fmt.Errorf("fchost: async payload of %d bytes exceeds FC's %d-byte limit", len(payload), maxAsyncPayload)
	}
	task := &AsyncTask{RequestID: newRequestID(), Function: f.spec.Name, Source: source, Trigger: trigger, Status: TaskEnqueued, Enqueued: h.now()}
	h.mu.Lock()
	if h.ctx.Err() != nil {
		h.mu.Unlock()
		return "", ErrClosed
	}
	h.tasks[task.RequestID] = task
	h.taskOrder = append(h.taskOrder, task.RequestID)
	h.pruneTasksLocked()
	h.async.Add(1)
	h.mu.Unlock()
	go h.runAsync(f, task, append([]byte(nil), payload...))
	return task.RequestID, nil
}

func (h *Host) pruneTasksLocked() {
	if len(h.taskOrder) <= maxTasks {
		return
	}
	kept := h.taskOrder[:0]
	excess := len(h.taskOrder) - maxTasks
	for _, id := range h.taskOrder {
		if t := h.tasks[id]; excess > 0 && t != nil && t.done() {
			delete(h.tasks, id)
			excess--
			continue
		}
		kept = append(kept, id)
	}
	h.taskOrder = kept
}

func (h *Host) updateTask(t *AsyncTask, fn func(*AsyncTask)) {
	h.mu.Lock()
	fn(t)
	h.mu.Unlock()
}

func (h *Host) runAsync(f *function, task *AsyncTask, payload []byte) {
	defer h.async.Done()
	log := f.log.With().Str("requestId", task.RequestID).Str("source", task.Source).Logger()
	for attempt := 0; ; attempt++ {
		if age := h.now().Sub(task.Enqueued); age > f.spec.Async.MaxEventAge {
			h.updateTask(task, func(t *AsyncTask) { t.Status, t.Finished = TaskExpired, h.now() })
			log.Warn().Dur("age", age).Dur("maxEventAge", f.spec.Async.MaxEventAge).Int("attempts", attempt).
				Msg("async event dropped: older than maxAsyncEventAgeInSeconds")
			return
		}
		h.updateTask(task, func(t *AsyncTask) {
			t.Status, t.Attempts, t.RetryCount = TaskRunning, attempt+1, attempt
			if t.Started.IsZero() {
				t.Started = h.now()
			}
		})
		inv := f.newInvocation(kindInvoke, payload, task.Source, task.Trigger)
		inv.id = task.RequestID // retries keep the request id; x-fc-retry-count tells them apart
		inv.retry = attempt
		_, res, err := h.run(h.ctx, inv)
		switch {
		case err == nil:
			h.updateTask(task, func(t *AsyncTask) { t.Status, t.Result, t.Error, t.Finished = TaskSucceeded, res, "", h.now() })
			return
		case h.ctx.Err() != nil:
			h.updateTask(task, func(t *AsyncTask) { t.Status, t.Error, t.Finished = TaskStopped, err.Error(), h.now() })
			return
		case attempt >= f.spec.Async.MaxRetryAttempts:
			h.updateTask(task, func(t *AsyncTask) { t.Status, t.Error, t.Finished = TaskFailed, err.Error(), h.now() })
			log.Warn().Err(err).Int("attempts", attempt+1).Msg("async invocation failed after its retries")
			return
		}
		delay := h.opts.RetryBackoff << attempt
		if delay > time.Minute || delay <= 0 {
			delay = time.Minute
		}
		h.updateTask(task, func(t *AsyncTask) { t.Status, t.Error = TaskRetrying, err.Error() })
		select {
		case <-h.ctx.Done():
			h.updateTask(task, func(t *AsyncTask) { t.Status, t.Finished = TaskStopped, h.now() })
			return
		case <-time.After(delay):
		}
	}
}

// AsyncStatus reports an asynchronous invocation by request id.
func (h *Host) AsyncStatus(requestID string) (AsyncTask, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.tasks[requestID]
	if !ok {
		return AsyncTask{}, false
	}
	return *t, true
}
