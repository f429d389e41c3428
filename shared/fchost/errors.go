package fchost

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors; a *FunctionError matches the one of its Kind with errors.Is.
var (
	ErrNoSuchFunction = errors.New("fchost: no such function")
	ErrNoSuchTrigger  = errors.New("fchost: no such trigger")
	ErrTimeout        = errors.New("fchost: function timed out")
	ErrProcessExited  = errors.New("fchost: function process exited")
	ErrStartFailed    = errors.New("fchost: function instance failed to start")
	ErrClosed         = errors.New("fchost: host closed")
	ErrCredentials    = errors.New("fchost: no credentials for the function role")
)

// ErrorKind says why an invocation failed.
type ErrorKind int

const (
	// KindHandled: the handler returned an error or panicked; the runtime reported it.
	KindHandled ErrorKind = iota
	// KindTimeout: no answer before the function's timeout; the instance was killed and restarted.
	KindTimeout
	// KindExited: the process died with the invocation in flight.
	KindExited
	// KindStartFailed: the instance could not start (or its initializer failed) repeatedly.
	KindStartFailed
	// KindClosed: the host stopped first.
	KindClosed
)

// FunctionError is a failed invocation, shaped as FC reports it ({"errorMessage","errorType","stackTrace"}).
type FunctionError struct {
	Function   string
	RequestID  string
	Kind       ErrorKind
	Type       string          // errorType
	Message    string          // errorMessage
	StackTrace json.RawMessage // stackTrace, when the runtime sent one (panics)
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function %s (request %s): %s: %s", e.Function, e.RequestID, e.Type, e.Message)
}

// Is maps the kind to the sentinel errors.
func (e *FunctionError) Is(target error) bool {
	switch e.Kind {
	case KindTimeout:
		return target == ErrTimeout
	case KindExited:
		return target == ErrProcessExited
	case KindStartFailed:
		return target == ErrStartFailed
	case KindClosed:
		return target == ErrClosed
	}
	return false
}

// Body is the error as FC's InvokeFunction and HTTP triggers return it.
func (e *FunctionError) Body() []byte {
	v := struct {
		Message    string          `json:"errorMessage"`
		Type       string          `json:"errorType"`
		StackTrace json.RawMessage `json:"stackTrace,omitempty"`
	}{e.Message, e.Type, e.StackTrace}
	b, _ := json.Marshal(v)
	return b
}

const maxErrorMessage = 64 << 10

// parseRuntimeError reads what a runtime POSTed to {id}/error. Anything that is not the SDK's JSON
// shape still becomes an error (FC does not trust the runtime either).
func parseRuntimeError(body []byte) (typ, msg string, stack json.RawMessage) {
	var v struct {
		Message    any             `json:"errorMessage"`
		Type       any             `json:"errorType"`
		StackTrace json.RawMessage `json:"stackTrace"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "UnhandledError", truncate(string(body)), nil
	}
	typ, msg = stringish(v.Type), stringish(v.Message)
	if typ == "" {
		typ = "UnhandledError"
	}
	if len(v.StackTrace) > 0 && string(v.StackTrace) != "null" {
		if len(v.StackTrace) > maxErrorMessage {
			v.StackTrace = nil
		}
		stack = v.StackTrace
	}
	return truncate(typ), truncate(msg), stack
}

func stringish(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// truncate keeps error texts bounded and valid UTF-8.
func truncate(s string) string {
	if len(s) > maxErrorMessage {
		s = s[:maxErrorMessage]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
