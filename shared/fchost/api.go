package fchost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The control listener (unauthenticated, like localcloud's control API: it listens on loopback):
//
//	POST /2023-03-30/functions/{name}/invocations        InvokeFunction; x-fc-invocation-type: Sync (default) | Async
//	GET  /2023-03-30/functions/{name}/async-tasks/{id}   an async invocation's state (id = its x-fc-request-id)
//	POST /__fchost/events/{function}/{trigger}           an EventBridge delivery (localcloud posts here)
//	GET  /__fchost/health
const invokeAPIPrefix = "/2023-03-30/functions/"

func (h *Host) serveControl(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, invokeAPIPrefix):
		parts := strings.Split(strings.TrimPrefix(path, invokeAPIPrefix), "/")
		switch {
		case len(parts) == 2 && parts[1] == "invocations" && r.Method == http.MethodPost:
			h.serveInvoke(w, r, parts[0])
			return
		case len(parts) == 3 && parts[1] == "async-tasks" && r.Method == http.MethodGet:
			h.serveTask(w, parts[0], parts[2])
			return
		}
	case path == adminPrefix+"/health" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	case strings.HasPrefix(path, adminPrefix+"/events/") && r.Method == http.MethodPost:
		parts := strings.Split(strings.TrimPrefix(path, adminPrefix+"/events/"), "/")
		if len(parts) == 2 {
			h.serveEvent(w, r, parts[0], parts[1])
			return
		}
	}
	fcError(w, http.StatusNotFound, "PathNotSupported", "no such route: "+r.Method+" "+path, "")
}

// fcError writes FC 3.0's error body.
func fcError(w http.ResponseWriter, status int, code, msg, requestID string) {
	if requestID == "" {
		requestID = newRequestID()
	}
	w.Header().Set("x-fc-request-id", requestID)
	writeJSON(w, status, map[string]string{"Code": code, "Message": msg, "RequestId": requestID})
}

func (h *Host) serveInvoke(w http.ResponseWriter, r *http.Request, name string) {
	f, err := h.lookup(name)
	if err != nil {
		fcError(w, http.StatusNotFound, "FunctionNotFound", fmt.Sprintf("function %q does not exist", name), "")
		return
	}
	if q := r.URL.Query().Get("qualifier"); q != "" && q != defaultQualifier {
		fcError(w, http.StatusBadRequest, "InvalidArgument", fmt.Sprintf("qualifier %q: fchost serves only LATEST", q), "")
		return
	}
	async := false
	switch typ := r.Header.Get("x-fc-invocation-type"); {
	case typ == "" || strings.EqualFold(typ, "Sync"):
	case strings.EqualFold(typ, "Async"):
		async = true
	default:
		fcError(w, http.StatusBadRequest, "InvalidArgument", fmt.Sprintf("x-fc-invocation-type %q: must be Sync or Async", typ), "")
		return
	}
	limit := maxSyncPayload
	if async {
		limit = maxAsyncPayload
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		fcError(w, http.StatusBadRequest, "InvalidArgument", "reading the body: "+err.Error(), "")
		return
	}
	if len(body) > limit {
		fcError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("the payload exceeds %d bytes, FC's %s limit", limit, map[bool]string{true: "async", false: "sync"}[async]), "")
		return
	}
	if async {
		id, err := h.invokeAsync(r.Context(), f, body, SourceAsync, "")
		if err != nil {
			fcError(w, http.StatusServiceUnavailable, "ServiceUnavailable", err.Error(), "")
			return
		}
		w.Header().Set("x-fc-request-id", id)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	id, res, err := h.run(r.Context(), f.newInvocation(kindInvoke, body, SourceInvoke, ""))
	w.Header().Set("x-fc-request-id", id)
	var fe *FunctionError
	switch {
	case err == nil:
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(res)
	case errors.As(err, &fe) && fe.Kind != KindClosed:
		// A function error is a successful API call: FC answers 200 and marks the error in a header.
		w.Header().Set("x-fc-error-type", "UnhandledInvocationError")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(fe.Body())
	case errors.Is(err, ErrCredentials):
		fcError(w, http.StatusForbidden, "AccessDenied", err.Error(), id)
	default:
		fcError(w, http.StatusServiceUnavailable, "ServiceUnavailable", err.Error(), id)
	}
}

func (h *Host) serveTask(w http.ResponseWriter, function, id string) {
	t, ok := h.AsyncStatus(id)
	if !ok || t.Function != function {
		fcError(w, http.StatusNotFound, "AsyncTaskNotFound", fmt.Sprintf("async task %q of function %q does not exist", id, function), "")
		return
	}
	out := map[string]any{
		"taskId": t.RequestID, "requestId": t.RequestID, "status": t.Status, "qualifier": defaultQualifier,
		"alreadyRetriedTimes": t.RetryCount, "functionName": t.Function, "source": t.Source,
	}
	if !t.Started.IsZero() {
		out["startedTime"] = t.Started.UnixMilli()
	}
	if !t.Finished.IsZero() {
		out["endTime"] = t.Finished.UnixMilli()
	}
	if t.Result != nil {
		out["returnPayload"] = string(t.Result)
	}
	if t.Error != "" {
		out["taskErrorMessage"] = t.Error
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Host) serveEvent(w http.ResponseWriter, r *http.Request, function, trigger string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSyncPayload+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "reading the body: " + err.Error()})
		return
	}
	id, _, err := h.DeliverEvent(r.Context(), function, trigger, body)
	w.Header().Set("x-fc-request-id", id)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"requestId": id})
	case errors.Is(err, ErrNoSuchFunction), errors.Is(err, ErrNoSuchTrigger):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, errBadEvent):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	default:
		// A failed target makes EventBridge retry the delivery.
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error(), "requestId": id})
	}
}

var errBadEvent = errors.New("fchost: bad event")

// DeliverEvent hands an EventBridge event (a CloudEvent JSON document) to a function's
// eventbridge trigger: asynchronously when the trigger's asyncInvocationType is true (the result
// is then empty and the request id names the async task), else synchronously.
func (h *Host) DeliverEvent(ctx context.Context, function, trigger string, event []byte) (requestID string, result []byte, err error) {
	f, err := h.lookup(function)
	if err != nil {
		return "", nil, err
	}
	t := f.spec.trigger(trigger)
	if t == nil || t.EventBridge == nil {
		return "", nil, fmt.Errorf("%w: %s has no eventbridge trigger %q", ErrNoSuchTrigger, function, trigger)
	}
	if !t.EventBridge.Enable {
		return "", nil, fmt.Errorf("%w: eventbridge trigger %s of %s is disabled (triggerEnable: false)", ErrNoSuchTrigger, trigger, function)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(event, &probe); err != nil || probe == nil {
		return "", nil, fmt.Errorf("%w: the delivery must be a CloudEvent JSON object", errBadEvent)
	}
	if t.EventBridge.Async {
		id, err := h.invokeAsync(ctx, f, event, SourceEventBridge, t.Name)
		return id, nil, err
	}
	inv := f.newInvocation(kindInvoke, event, SourceEventBridge, t.Name)
	inv.qualifier = t.Qualifier
	return h.run(ctx, inv)
}

// FireTimer invokes a function as its timer trigger would, now, and waits for the result (the
// schedule itself invokes asynchronously, with retries). A disabled trigger can be fired too.
func (h *Host) FireTimer(ctx context.Context, function, trigger string) ([]byte, error) {
	f, err := h.lookup(function)
	if err != nil {
		return nil, err
	}
	t := f.spec.trigger(trigger)
	if t == nil || t.Timer == nil {
		return nil, fmt.Errorf("%w: %s has no timer trigger %q", ErrNoSuchTrigger, function, trigger)
	}
	inv := f.newInvocation(kindInvoke, timerEvent(t, time.Now()), SourceTimer, t.Name)
	inv.qualifier = t.Qualifier
	_, res, err := h.run(ctx, inv)
	return res, err
}

// timerEvent is FC's timer payload: {"triggerTime","triggerName","payload"}.
func timerEvent(t *Trigger, now time.Time) []byte {
	b, _ := json.Marshal(struct {
		TriggerTime string `json:"triggerTime"`
		TriggerName string `json:"triggerName"`
		Payload     string `json:"payload"`
	}{now.UTC().Format(time.RFC3339), t.Name, t.Timer.Payload})
	return b
}
